using System.ComponentModel;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using Easel.Core;
using Easel.Core.Data;
using Easel.Core.Options;
using Easel.Core.Telemetry;
using Easel.Core.Webhooks;
using Hangfire;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Easel.Workers.Webhooks;

/// <summary>
/// The Hangfire job of the "webhooks" queue: one attempt of one outbox message. It takes the message with a
/// concurrency-token guarded update (so two runs never send one message at the same time), POSTs the frozen body
/// signed per Standard Webhooks, records the attempt, and schedules the next one in the row (not in Hangfire), so that
/// retries hours away survive restarts and a slow receiver holds only a webhook worker.
/// </summary>
public sealed class WebhookSender(
    EaselDbContext db,
    IHttpClientFactory clients,
    IOptions<WebhookOptions> options,
    EaselMetrics metrics,
    TimeProvider time,
    ILogger<WebhookSender> logger)
{
    public const string Queue = "webhooks";
    public const string HttpClientName = "Easel.Webhooks";

    /// <summary>Beyond the attempt timeout, how long a taken message stays invisible to the dispatcher.</summary>
    private static readonly TimeSpan SendingLeaseMargin = TimeSpan.FromSeconds(30);

    /// <summary>Sends the message if it is still the one <paramref name="claim"/> (the dispatcher's token) refers to.</summary>
    [Queue(Queue)]
    [AutomaticRetry(Attempts = 0)]
    [DisplayName("webhook {0}")]
    public async Task DeliverAsync(Guid deliveryId, Guid claim, CancellationToken cancellationToken)
    {
        var delivery = await db.WebhookDeliveries.SingleOrDefaultAsync(d => d.Id == deliveryId, cancellationToken);
        if (delivery is null || delivery.Version != claim || delivery.Status != WebhookDeliveryStatus.Pending)
            return; // delivered, redelivered or re-claimed meanwhile: that run owns it

        var settings = options.Value;
        var now = time.GetUtcNowMilliseconds();
        delivery.Version = Guid.NewGuid();
        delivery.NextAttemptAt = now + settings.Timeout + SendingLeaseMargin;
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateConcurrencyException)
        {
            return;
        }

        var secret = await WebhookSecrets.GetOrCreateAsync(db, delivery.Owner ?? "", now, cancellationToken);
        var result = await SendAsync(delivery, WebhookSecrets.SigningSecrets(secret, now), now, settings.Timeout, cancellationToken);
        await RecordAsync(delivery, result, now, settings);
    }

    private async Task<AttemptResult> SendAsync(WebhookDelivery delivery, IReadOnlyList<string> secrets, DateTimeOffset now, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        var messageId = WebhookSignature.MessageId(delivery.Id);
        var timestamp = now.ToUnixTimeSeconds();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var started = time.GetTimestamp();
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, delivery.Url)
            {
                Content = new ByteArrayContent(Encoding.UTF8.GetBytes(delivery.Payload)),
            };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.Add("webhook-id", messageId);
            request.Headers.Add("webhook-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
            request.Headers.Add("webhook-signature", WebhookSignature.Sign(secrets, messageId, timestamp, delivery.Payload));
            using var response = await clients.CreateClient(HttpClientName)
                .SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
            var status = (int)response.StatusCode;
            var error = status switch
            {
                >= 200 and < 300 => null,
                >= 300 and < 400 => $"HTTP {status}: redirects are not followed (Location: {response.Headers.Location})",
                410 => "HTTP 410 Gone: the receiver asked not to be sent this again",
                _ => $"HTTP {status}",
            };
            return new AttemptResult(status, time.GetElapsedTime(started), error, Final: status == (int)HttpStatusCode.Gone);
        }
        catch (HttpRequestException e) when (FindRefusal(e) is { } refusal)
        {
            return new AttemptResult(null, time.GetElapsedTime(started), refusal.Message, Final: true);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new AttemptResult(null, time.GetElapsedTime(started), $"no response within {timeout.TotalSeconds:0.###} s", Final: false);
        }
        catch (HttpRequestException e)
        {
            var detail = e.InnerException is { } inner && !e.Message.Contains(inner.Message, StringComparison.Ordinal)
                ? $"{e.Message} ({inner.Message})"
                : e.Message;
            return new AttemptResult(null, time.GetElapsedTime(started), Truncate(detail), Final: false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Recorded like any failed attempt, so that the schedule moves on instead of the message looping on its lease.
            return new AttemptResult(null, time.GetElapsedTime(started), Truncate($"{e.GetType().Name}: {e.Message}"), Final: false);
        }
    }

    private static WebhookTargetRefusedException? FindRefusal(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is WebhookTargetRefusedException refusal)
                return refusal;
        }
        return null;
    }

    /// <summary>Appends the attempt and moves the message on: delivered, failed, or pending until its next retry.</summary>
    private async Task RecordAsync(WebhookDelivery delivery, AttemptResult result, DateTimeOffset attemptedAt, WebhookOptions settings)
    {
        var finishedAt = time.GetUtcNowMilliseconds();
        var delays = settings.EffectiveRetryDelays;
        string outcome;
        delivery.AttemptCount++;
        db.WebhookAttempts.Add(Attempt(delivery, result, attemptedAt));
        delivery.Version = Guid.NewGuid();
        if (result.Error is null)
        {
            outcome = "delivered";
            delivery.Status = WebhookDeliveryStatus.Delivered;
            delivery.DeliveredAt = finishedAt;
            delivery.NextAttemptAt = null;
            delivery.LastError = null;
        }
        else if (!result.Final && delivery.AttemptCount - 1 < delays.Count)
        {
            outcome = "retry";
            delivery.NextAttemptAt = finishedAt + Jitter(delays[delivery.AttemptCount - 1]);
            delivery.LastError = result.Error;
        }
        else
        {
            outcome = "failed";
            delivery.Status = WebhookDeliveryStatus.Failed;
            delivery.NextAttemptAt = null;
            delivery.LastError = result.Error;
        }
        metrics.WebhookAttempted(outcome, result.StatusCode, result.Latency);

        try
        {
            await db.SaveChangesAsync(CancellationToken.None);
        }
        catch (DbUpdateConcurrencyException)
        {
            // Redelivered while this attempt was in flight: the redelivery owns the state; keep only the attempt.
            db.ChangeTracker.Clear();
            await AppendAttemptOnlyAsync(delivery.Id, result, attemptedAt);
            outcome = "superseded";
        }
        logger.LogInformation("Webhook {MessageId} for job {JobId} attempt {Attempt}: {Outcome} ({Detail}, {LatencyMs} ms)",
            WebhookSignature.MessageId(delivery.Id), delivery.JobId, delivery.AttemptCount, outcome,
            result.Error ?? $"HTTP {result.StatusCode}", (int)result.Latency.TotalMilliseconds);
    }

    private async Task AppendAttemptOnlyAsync(Guid deliveryId, AttemptResult result, DateTimeOffset attemptedAt)
    {
        for (var tries = 0; tries < 3; tries++)
        {
            var delivery = await db.WebhookDeliveries.SingleOrDefaultAsync(d => d.Id == deliveryId);
            if (delivery is null)
                return;
            delivery.AttemptCount++;
            delivery.Version = Guid.NewGuid();
            db.WebhookAttempts.Add(Attempt(delivery, result, attemptedAt));
            try
            {
                await db.SaveChangesAsync(CancellationToken.None);
                return;
            }
            catch (DbUpdateException)
            {
                db.ChangeTracker.Clear();
            }
        }
        logger.LogWarning("Could not record an attempt of webhook {MessageId}: the message kept changing", WebhookSignature.MessageId(deliveryId));
    }

    private static WebhookAttempt Attempt(WebhookDelivery delivery, AttemptResult result, DateTimeOffset attemptedAt) => new()
    {
        DeliveryId = delivery.Id,
        Number = delivery.AttemptCount,
        AttemptedAt = attemptedAt,
        StatusCode = result.StatusCode,
        LatencyMs = (int)Math.Min(int.MaxValue, Math.Round(result.Latency.TotalMilliseconds)),
        Error = result.Error,
    };

    /// <summary>±10 %, so that many messages failing together do not retry together.</summary>
    private static TimeSpan Jitter(TimeSpan delay) => delay * (0.9 + 0.2 * Random.Shared.NextDouble());

    private static string Truncate(string text) => text.Length <= 1000 ? text : text[..997] + "...";

    /// <param name="Final">No retry helps: the target is refused or the receiver answered 410 Gone.</param>
    private sealed record AttemptResult(int? StatusCode, TimeSpan Latency, string? Error, bool Final);
}
