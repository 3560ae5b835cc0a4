using System.ComponentModel;
using Easel.Core;
using Easel.Core.Data;
using Easel.Core.FineTunes;
using Easel.Core.Generation;
using Easel.Core.Jobs;
using Easel.Core.Storage;
using Hangfire;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Easel.Workers.Housekeeping;

/// <summary>What one retention run deleted.</summary>
public sealed record RetentionReport(int Jobs, int Images, int Events, int Blobs, int IdempotencyKeys);

/// <summary>
/// Deletes what finished jobs no longer need once <c>Easel:Retention:ResultTtl</c> has passed since they finished: their
/// image rows, their event log and the blobs of their images and inputs (a fine-tune's training images too); the job rows stay. Blobs are content-addressed,
/// so one blob can belong to several jobs: a blob is deleted only when no image row and no job still within its time
/// (queued, running or finished recently) refers to it, and only when nobody has put the same content during the grace
/// period (a worker stores a blob before it records the row). Also forgets idempotency keys older than a day.
/// </summary>
public sealed class RetentionJob(
    EaselDbContext db,
    IBlobStore blobs,
    TimeProvider time,
    IOptions<RetentionOptions> options,
    ILogger<RetentionJob> logger)
{
    public const string RecurringJobId = "easel-retention";

    [Queue(WorkerQueues.Default)]
    [AutomaticRetry(Attempts = 0)] // the next occurrence is the retry
    [DisplayName("retention")]
    public async Task<RetentionReport> RunAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var now = time.GetUtcNowMilliseconds();
        var keyCutoff = now - settings.IdempotencyKeyTtl;
        var keys = await db.IdempotencyRecords.Where(r => r.CreatedAt < keyCutoff).ExecuteDeleteAsync(cancellationToken);

        var report = new RetentionReport(0, 0, 0, 0, keys);
        if (settings.ResultTtl > TimeSpan.Zero)
        {
            var cutoff = now - settings.ResultTtl;
            var writtenBefore = now - settings.BlobGrace;
            while (true)
            {
                var batch = await ExpireBatchAsync(cutoff, writtenBefore, settings.BatchSize, cancellationToken);
                report = report with
                {
                    Jobs = report.Jobs + batch.Jobs,
                    Images = report.Images + batch.Images,
                    Events = report.Events + batch.Events,
                    Blobs = report.Blobs + batch.Blobs,
                };
                if (batch.Jobs < settings.BatchSize)
                    break;
            }
        }
        logger.LogInformation(
            "Retention: {Jobs} job(s) past their time lost {Images} image(s), {Events} event(s) and {Blobs} blob(s); {Keys} idempotency key(s) forgotten",
            report.Jobs, report.Images, report.Events, report.Blobs, report.IdempotencyKeys);
        return report;
    }

    /// <summary>
    /// One batch of finished jobs past the cutoff that still hold images or events (a job whose results are gone has
    /// neither, so each job is handled once): rows in one transaction, then the blobs nobody refers to any more.
    /// </summary>
    private async Task<RetentionReport> ExpireBatchAsync(DateTimeOffset cutoff, DateTimeOffset writtenBefore, int size,
        CancellationToken cancellationToken)
    {
        var jobs = await db.Jobs
            .Where(j => (j.Status == JobStatus.Succeeded || j.Status == JobStatus.Failed || j.Status == JobStatus.Canceled)
                        && j.FinishedAt < cutoff
                        && (j.Images.Any() || j.Events.Any()))
            .OrderBy(j => j.FinishedAt)
            .Take(size)
            .Select(j => new { j.Id, j.Kind, j.Request, Blobs = j.Images.Select(i => i.BlobKey).ToList() })
            .ToListAsync(cancellationToken);
        if (jobs.Count == 0)
            return new RetentionReport(0, 0, 0, 0, 0);

        var ids = jobs.Select(j => j.Id).ToList();
        var candidates = jobs.SelectMany(j => j.Blobs.Concat(InputBlobs(j.Kind, j.Request))).ToHashSet(StringComparer.Ordinal);
        int images, events;
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            images = await db.Images.Where(i => ids.Contains(i.JobId)).ExecuteDeleteAsync(cancellationToken);
            events = await db.JobEvents.Where(e => ids.Contains(e.JobId)).ExecuteDeleteAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        var candidateList = candidates.ToList();
        var referenced = (await db.Images.Where(i => candidateList.Contains(i.BlobKey)).Select(i => i.BlobKey).Distinct()
                .ToListAsync(cancellationToken))
            .Concat(await LiveInputBlobsAsync(cutoff, cancellationToken))
            // An artifact (also a deleted one: jobs that used it keep their references) keeps its blob.
            .Concat(await db.Artifacts.Where(a => candidateList.Contains(a.BlobKey)).Select(a => a.BlobKey).ToListAsync(cancellationToken))
            .ToHashSet(StringComparer.Ordinal);
        var deleted = candidates.Count(key => !referenced.Contains(key) && blobs.DeleteIfNotWrittenSince(key, writtenBefore));
        return new RetentionReport(jobs.Count, images, events, deleted, 0);
    }

    /// <summary>The blobs a job's stored request refers to: a generation's input image, mask, control and adapter images, an edit's image and mask, a fine-tune's training images.</summary>
    private static IEnumerable<string> InputBlobs(JobKind kind, string request)
    {
        if (kind == JobKind.FineTune)
            return System.Text.Json.JsonSerializer.Deserialize<FineTuneParameters>(request, JobJson.Options)?.Images.Select(i => i.Blob) ?? [];
        if (kind == JobKind.Edit)
        {
            var edit = System.Text.Json.JsonSerializer.Deserialize<Core.Editing.EditParameters>(request, JobJson.Options);
            return new[] { edit?.Image?.Blob, edit?.Mask?.Blob }.OfType<string>();
        }
        if (kind != JobKind.Generation)
            return [];
        var parameters = System.Text.Json.JsonSerializer.Deserialize<GenerationParameters>(request, JobJson.Options);
        return new[] { parameters?.Image?.Blob, parameters?.Mask?.Blob }
            .Concat(parameters?.Controlnets?.Select(u => u.Image?.Blob) ?? [])
            .Concat(parameters?.Adapters?.Select(a => a.Image?.Blob) ?? [])
            .OfType<string>();
    }

    /// <summary>
    /// The input blobs of every job that is not past its time: queued, running, or finished at or after the cutoff.
    /// JSON paths are provider SQL (jsonb in PostgreSQL, json_extract/json_each in SQLite); the request shapes are
    /// <see cref="GenerationParameters"/> (image, mask, controlnets[].image, adapters[].image) and <see cref="FineTuneParameters"/> (images) in snake_case.
    /// </summary>
    private async Task<List<string>> LiveInputBlobsAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        if (db is PostgresEaselDbContext)
        {
            return await db.Database.SqlQuery<string>($"""
                SELECT request->'image'->>'blob' AS "Value" FROM jobs
                WHERE (status IN ('queued', 'running') OR finished_at >= {cutoff}) AND request->'image'->>'blob' IS NOT NULL
                UNION
                SELECT request->'mask'->>'blob' FROM jobs
                WHERE (status IN ('queued', 'running') OR finished_at >= {cutoff}) AND request->'mask'->>'blob' IS NOT NULL
                UNION
                SELECT image->>'blob' FROM jobs, jsonb_array_elements(CASE jsonb_typeof(request->'images') WHEN 'array' THEN request->'images' ELSE '[]'::jsonb END) AS image
                WHERE (status IN ('queued', 'running') OR finished_at >= {cutoff}) AND image->>'blob' IS NOT NULL
                UNION
                SELECT unit->'image'->>'blob' FROM jobs, jsonb_array_elements(CASE jsonb_typeof(request->'controlnets') WHEN 'array' THEN request->'controlnets' ELSE '[]'::jsonb END) AS unit
                WHERE (status IN ('queued', 'running') OR finished_at >= {cutoff}) AND unit->'image'->>'blob' IS NOT NULL
                UNION
                SELECT unit->'image'->>'blob' FROM jobs, jsonb_array_elements(CASE jsonb_typeof(request->'adapters') WHEN 'array' THEN request->'adapters' ELSE '[]'::jsonb END) AS unit
                WHERE (status IN ('queued', 'running') OR finished_at >= {cutoff}) AND unit->'image'->>'blob' IS NOT NULL
                """).ToListAsync(cancellationToken);
        }
        var cutoffMilliseconds = cutoff.ToUnixTimeMilliseconds(); // SQLite stores timestamps as Unix milliseconds
        return await db.Database.SqlQuery<string>($"""
            SELECT json_extract(request, '$.image.blob') AS "Value" FROM jobs
            WHERE (status IN ('queued', 'running') OR finished_at >= {cutoffMilliseconds}) AND json_extract(request, '$.image.blob') IS NOT NULL
            UNION
            SELECT json_extract(request, '$.mask.blob') FROM jobs
            WHERE (status IN ('queued', 'running') OR finished_at >= {cutoffMilliseconds}) AND json_extract(request, '$.mask.blob') IS NOT NULL
            UNION
            SELECT json_extract(image.value, '$.blob') FROM jobs, json_each(jobs.request, '$.images') AS image
            WHERE (status IN ('queued', 'running') OR finished_at >= {cutoffMilliseconds}) AND json_extract(image.value, '$.blob') IS NOT NULL
            UNION
            SELECT json_extract(unit.value, '$.image.blob') FROM jobs, json_each(jobs.request, '$.controlnets') AS unit
            WHERE (status IN ('queued', 'running') OR finished_at >= {cutoffMilliseconds}) AND json_extract(unit.value, '$.image.blob') IS NOT NULL
            UNION
            SELECT json_extract(unit.value, '$.image.blob') FROM jobs, json_each(jobs.request, '$.adapters') AS unit
            WHERE (status IN ('queued', 'running') OR finished_at >= {cutoffMilliseconds}) AND json_extract(unit.value, '$.image.blob') IS NOT NULL
            """).ToListAsync(cancellationToken);
    }
}
