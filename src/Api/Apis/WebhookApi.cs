using Easel.Api.Auth;
using Easel.Core;
using Easel.Core.Data;
using Easel.Core.Jobs;
using Easel.Core.Options;
using Easel.Core.Webhooks;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Easel.Api.Apis;

/// <summary>The caller's webhook signing secret, and the deliveries of a job's webhook (the outbox, with every attempt).</summary>
public static class WebhookApi
{
    public const string SignatureDescription =
        "Each webhook is a POST of the job (as GET /v1/jobs/{id} shows it) with the Standard Webhooks headers webhook-id "
        + "(msg_<delivery id>, the same on every retry), webhook-timestamp (Unix seconds of the attempt) and webhook-signature "
        + "(v1,<base64 HMAC-SHA256 of \"{webhook-id}.{webhook-timestamp}.{body}\"> keyed with the base64-decoded part of the "
        + "secret after whsec_; during a rotation two signatures, space-separated; accept the message if one matches).";

    public static string DeliveriesPathOf(Guid jobId) => $"{ResourcePaths.Job(jobId)}/webhook-deliveries";

    public static IEndpointRouteBuilder MapWebhookEndpoints(this IEndpointRouteBuilder app)
    {
        var secrets = app.MapGroup("v1/webhooks").WithTags("Webhooks");

        secrets.MapGet("secret", GetSecret)
            .WithName("GetWebhookSecret")
            .WithSummary("Get the webhook signing secret")
            .WithDescription("The secret that signs the webhooks of the caller's jobs (one per API key; one for the service while "
                + "authentication is off), created on first use. previous_secret_expires_at is set while a rotated-out secret "
                + "still signs alongside. " + SignatureDescription);

        secrets.MapPost("secret/rotate", RotateSecret)
            .WithName("RotateWebhookSecret")
            .WithSummary("Rotate the webhook signing secret")
            .WithDescription("Creates a new secret. The old one keeps signing alongside it for Easel:Webhooks:RotationOverlap "
                + "(default 24 h), so receivers can switch without losing messages.");

        var deliveries = app.MapGroup("v1/jobs/{id:guid}/webhook-deliveries").WithTags("Webhooks");

        deliveries.MapGet("", GetDeliveries)
            .WithName("GetWebhookDeliveries")
            .WithSummary("List the webhook deliveries of a job")
            .WithDescription("`{\"data\": [...]}`: one delivery per posted event (started, progress, completed), oldest first, with its status "
                + "(pending, delivered, failed), the next attempt while retrying, and every attempt: the receiver's status code, "
                + "latency and error. Retries follow Easel:Webhooks:RetryDelays (default 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 24 h, "
                + "±10 %); 410 Gone and refused targets stop them.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        deliveries.MapPost("{deliveryId:guid}/redeliver", Redeliver)
            .WithName("RedeliverWebhook")
            .WithSummary("Send a webhook delivery again")
            .WithDescription("Makes the delivery due now, with the same webhook-id and body (receivers that already processed it "
                + "can recognise it). The retry schedule continues from where the delivery stands; one that exhausted it gets one "
                + "more attempt. Answers 202 with the delivery.")
            .Produces<WebhookDeliveryResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);

        return app;
    }

    public static async Task<Ok<WebhookSecretResponse>> GetSecret(HttpContext http, EaselDbContext db, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var now = time.GetUtcNowMilliseconds();
        var secret = await WebhookSecrets.GetOrCreateAsync(db, http.GetOwner() ?? "", now, cancellationToken);
        return TypedResults.Ok(new WebhookSecretResponse(secret.Secret, WebhookSecrets.PreviousExpiry(secret, now)));
    }

    public static async Task<Ok<WebhookSecretResponse>> RotateSecret(HttpContext http, EaselDbContext db, TimeProvider time,
        IOptions<WebhookOptions> options, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNowMilliseconds();
        var secret = await WebhookSecrets.RotateAsync(db, http.GetOwner() ?? "", now, options.Value.RotationOverlap, cancellationToken);
        return TypedResults.Ok(new WebhookSecretResponse(secret.Secret, WebhookSecrets.PreviousExpiry(secret, now)));
    }

    public static async Task<Results<Ok<WebhookDeliveryListResponse>, ProblemHttpResult>> GetDeliveries(
        Guid id, HttpContext http, EaselDbContext db, CancellationToken cancellationToken)
    {
        var owner = http.GetOwner();
        if (!await db.Jobs.AnyAsync(j => j.Id == id && j.Owner == owner, cancellationToken))
            return JobNotFound(id);
        var rows = await db.WebhookDeliveries.AsNoTracking()
            .Include(d => d.Attempts)
            .Where(d => d.JobId == id)
            .OrderBy(d => d.CreatedAt).ThenBy(d => d.Id)
            .ToListAsync(cancellationToken);
        return TypedResults.Ok(new WebhookDeliveryListResponse([.. rows.Select(WebhookDeliveryResponse.From)]));
    }

    public static async Task<Results<Accepted<WebhookDeliveryResponse>, ProblemHttpResult>> Redeliver(
        Guid id, Guid deliveryId, HttpContext http, EaselDbContext db, TimeProvider time, CancellationToken cancellationToken)
    {
        var owner = http.GetOwner();
        for (var tries = 0; tries < 3; tries++)
        {
            var delivery = await db.WebhookDeliveries
                .Include(d => d.Attempts)
                .SingleOrDefaultAsync(d => d.Id == deliveryId && d.JobId == id && d.Owner == owner, cancellationToken);
            if (delivery is null)
                return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Webhook delivery not found",
                    detail: $"Job {id} has no webhook delivery {deliveryId}.");
            delivery.Status = WebhookDeliveryStatus.Pending;
            delivery.NextAttemptAt = time.GetUtcNowMilliseconds();
            delivery.Version = Guid.NewGuid();
            try
            {
                // The commit wakes the outbox dispatcher (WebhookOutboxInterceptor).
                await db.SaveChangesAsync(cancellationToken);
                return TypedResults.Accepted(DeliveriesPathOf(id), WebhookDeliveryResponse.From(delivery));
            }
            catch (DbUpdateConcurrencyException)
            {
                db.ChangeTracker.Clear(); // an attempt finished meanwhile: apply the reset to its outcome
            }
        }
        return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "The delivery is changing",
            detail: $"Webhook delivery {deliveryId} kept changing while it was being reset; try again.");
    }

    private static ProblemHttpResult JobNotFound(Guid id) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Job not found", detail: $"No job has id {id}.");
}

/// <param name="Secret"><c>whsec_</c> + base64 of 32 random bytes.</param>
/// <param name="PreviousSecretExpiresAt">Until when the rotated-out secret also signs; null when only this one signs.</param>
public sealed record WebhookSecretResponse(string Secret, DateTimeOffset? PreviousSecretExpiresAt);

/// <summary>The deliveries of one job, oldest first, in the list shape of the other collections (<c>{"data": [...]}</c>).</summary>
public sealed record WebhookDeliveryListResponse(IReadOnlyList<WebhookDeliveryResponse> Data);

/// <param name="WebhookId">The webhook-id header of every attempt: <c>msg_</c> + <paramref name="Id"/>.</param>
/// <param name="Event">started, progress or completed.</param>
/// <param name="NextAttemptAt">When the next attempt is due (or, during an attempt, when it is given up as lost).</param>
public sealed record WebhookDeliveryResponse(
    Guid Id,
    string WebhookId,
    WebhookEventTypes Event,
    string Url,
    WebhookDeliveryStatus Status,
    int AttemptCount,
    DateTimeOffset CreatedAt,
    DateTimeOffset? NextAttemptAt,
    DateTimeOffset? DeliveredAt,
    string? LastError,
    IReadOnlyList<WebhookAttemptResponse> Attempts)
{
    public static WebhookDeliveryResponse From(WebhookDelivery d) => new(
        d.Id, WebhookSignature.MessageId(d.Id), d.EventType, d.Url, d.Status, d.AttemptCount, d.CreatedAt, d.NextAttemptAt, d.DeliveredAt,
        d.LastError, d.Attempts.OrderBy(a => a.Number).Select(WebhookAttemptResponse.From).ToList());
}

/// <param name="StatusCode">The receiver's answer; null when none came (refused target, connection error, timeout).</param>
public sealed record WebhookAttemptResponse(int Number, DateTimeOffset AttemptedAt, int? StatusCode, int LatencyMs, string? Error)
{
    public static WebhookAttemptResponse From(WebhookAttempt a) => new(a.Number, a.AttemptedAt, a.StatusCode, a.LatencyMs, a.Error);
}
