using System.Collections.Concurrent;
using Easel.Api.Apis;
using Easel.Api.Auth;
using Easel.Core;
using Easel.Core.Data;
using Easel.Core.Jobs;
using Easel.Core.Models;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Easel.Api.Extensions;

/// <summary>
/// <c>Idempotency-Key</c> on a POST that answers with a job (draft-ietf-httpapi-idempotency-key-header). Per owner
/// (the API key, or "" while authentication is off) the key is remembered for 24 hours with a fingerprint of the
/// request (SHA-256 over method, path and the body bytes as sent — for multipart that includes the boundary, so a retry
/// must resend the same bytes). A repeat with the same fingerprint answers 200 with the job's current state and
/// <c>Idempotent-Replayed: true</c>; with another fingerprint 422; while the first request is still being handled 409.
/// A handler that creates a job calls <see cref="AddRecord"/> so that the key commits in the job's own transaction;
/// the primary key (owner, key) refuses the loser of a race, which then gets the replay.
/// </summary>
public static class IdempotencyKeys
{
    public const string HeaderName = "Idempotency-Key";
    public const string ReplayedHeaderName = "Idempotent-Replayed";

    public const string Description = "`Idempotency-Key` (at most 255 characters, kept 24 h per API key): a repeat with the "
        + "same key and the same body answers 200 with the original job (its current state) and `Idempotent-Replayed: true`; "
        + "the same key with another body 422; the same key while the first request is still in progress 409; an empty or "
        + "longer key 400.";

    /// <summary>Requests being handled in this process, so that a concurrent repeat answers 409 instead of racing.</summary>
    private static readonly ConcurrentDictionary<(string Owner, string Key), byte> InFlight = new();

    /// <summary>Marks an endpoint as honouring the header (for the OpenAPI document).</summary>
    public sealed class Metadata;

    /// <summary>What the filter hands to the handler: the key to record with the job it creates.</summary>
    public sealed class Feature(string owner, string key, string fingerprint)
    {
        public string Owner { get; } = owner;
        public string Key { get; } = key;
        public string Fingerprint { get; } = fingerprint;
        public bool Recorded { get; set; }
    }

    public static RouteHandlerBuilder WithIdempotencyKey(this RouteHandlerBuilder builder) =>
        builder.AddEndpointFilter(InvokeAsync)
            .WithMetadata(new Metadata())
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);

    /// <summary>Adds the request's idempotency record for <paramref name="job"/> to the context (committed by the caller's SaveChanges).</summary>
    public static void AddRecord(HttpContext http, EaselDbContext db, Job job)
    {
        if (http.Features.Get<Feature>() is not { Recorded: false } feature)
            return;
        db.IdempotencyRecords.Add(new IdempotencyRecord
        {
            Owner = feature.Owner, Key = feature.Key, RequestHash = feature.Fingerprint, JobId = job.Id, CreatedAt = job.CreatedAt,
        });
        feature.Recorded = true;
    }

    private static async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (!http.Request.Headers.TryGetValue(HeaderName, out var header))
            return await next(context);
        var key = ParseKey(header.ToString());
        if (key is null)
        {
            return TypedResults.Problem(new HttpValidationProblemDetails(new Dictionary<string, string[]>
            {
                [HeaderName] = [$"{HeaderName} must be 1 to {IdempotencyStore.MaxKeyLength} characters."],
            }) { Status = StatusCodes.Status400BadRequest, Title = $"The {HeaderName} header is invalid." });
        }

        var owner = http.GetOwner() ?? "";
        // Buffered (memory, then a temporary file for large uploads) so that the handler reads the same bytes again.
        http.Request.EnableBuffering();
        var fingerprint = await IdempotencyStore.FingerprintAsync(
            http.Request.Method, http.Request.Path + http.Request.QueryString, http.Request.Body, http.RequestAborted);
        http.Request.Body.Position = 0;

        var services = http.RequestServices;
        var db = services.GetRequiredService<EaselDbContext>();
        var time = services.GetRequiredService<TimeProvider>();
        if (await ReplayAsync(http, db, time, owner, key, fingerprint) is { } earlier)
            return earlier;
        if (!InFlight.TryAdd((owner, key), 0))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "A request with this idempotency key is in progress.",
                detail: $"Another request with {HeaderName} '{key}' has not finished yet; retry after it has.");
        }
        try
        {
            var feature = new Feature(owner, key, fingerprint);
            http.Features.Set(feature);
            object? result;
            try
            {
                result = await next(context);
            }
            catch (DbUpdateException) when (feature.Recorded)
            {
                // Another instance committed the same key first: the primary key refused ours, and nothing of ours was stored.
                db.ChangeTracker.Clear();
                if (await ReplayAsync(http, db, time, owner, key, fingerprint) is { } winner)
                    return winner;
                throw;
            }

            if (!feature.Recorded && JobResults.Read(result) is ({ } job, _))
            {
                // Handlers that act on an existing job (cancel) record the key after their own change.
                db.ChangeTracker.Clear();
                db.IdempotencyRecords.Add(new IdempotencyRecord
                {
                    Owner = owner, Key = key, RequestHash = fingerprint, JobId = job.Id, CreatedAt = time.GetUtcNowMilliseconds(),
                });
                try
                {
                    await db.SaveChangesAsync(http.RequestAborted);
                }
                catch (DbUpdateException)
                {
                    db.ChangeTracker.Clear(); // a concurrent twin recorded it; both answers describe the same job
                }
            }
            return result;
        }
        finally
        {
            InFlight.TryRemove((owner, key), out _);
        }
    }

    /// <summary>The answer to a repeat of a recorded key, or null when the key is new (or its job is gone).</summary>
    private static async Task<IResult?> ReplayAsync(HttpContext http, EaselDbContext db, TimeProvider time, string owner, string key, string fingerprint)
    {
        var record = await IdempotencyStore.FindAsync(db, owner, key, time.GetUtcNowMilliseconds(), http.RequestAborted);
        if (record is null)
            return null;
        if (record.RequestHash != fingerprint)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status422UnprocessableEntity,
                title: "The idempotency key was used for another request.",
                detail: $"{HeaderName} '{key}' was first sent with a different method, path or body; use a new key for a new request.");
        }
        var job = await JobApi.LoadAsync(db, http.RequestServices.GetRequiredService<IModelCatalog>(), record.JobId, http.GetOwner(), time, http.RequestAborted);
        if (job is null)
        {
            await IdempotencyStore.DeleteAsync(db, owner, key, http.RequestAborted);
            return null;
        }
        http.Response.Headers[ReplayedHeaderName] = "true";
        http.Response.Headers.Location = job.Url;
        return TypedResults.Ok(job);
    }

    /// <summary>The key as sent, or the content of an RFC 8941 sf-string (the draft's syntax); null when empty or too long.</summary>
    private static string? ParseKey(string value)
    {
        var key = value.Trim();
        if (key.Length >= 2 && key[0] == '"' && key[^1] == '"')
            key = key[1..^1];
        return key.Length is 0 or > IdempotencyStore.MaxKeyLength ? null : key;
    }
}
