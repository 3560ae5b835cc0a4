using System.ComponentModel;
using Easel.Core;
using Easel.Core.Artifacts;
using Easel.Core.Data;
using Easel.Core.Generation;
using Easel.Core.Images;
using Easel.Core.Jobs;
using Easel.Core.Models;
using Easel.Core.Options;
using Easel.Core.Storage;
using Easel.Core.Telemetry;
using Easel.Inference.Imaging;
using Easel.Inference.Pipelines;
using Easel.Workers.Artifacts;
using Easel.Workers.Hosting;
using Easel.Workers.Models;
using Hangfire;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Easel.Workers.Jobs;

/// <summary>
/// Runs one job of any kind (see <see cref="IJobKindRunner"/>). Hangfire carries only the job id; the row says what to do. The job is claimed with a
/// queued → running transition guarded by the row's concurrency token, so a duplicate delivery does nothing.
/// A failure of the request or the model marks the job failed with a readable reason and returns normally, so the
/// worker keeps serving and Hangfire does not retry a deterministic failure.
/// </summary>
public sealed class JobRunner(
    EaselDbContext db,
    IEnumerable<IJobKindRunner> kinds,
    ILocalModels localModels,
    IJobDispatcher dispatcher,
    IBlobStore blobs,
    EaselMetrics metrics,
    TimeProvider time,
    IOptions<WorkerOptions> options,
    IServiceScopeFactory scopes,
    ILogger<JobRunner> logger)
{
    /// <summary>What the job row's worker_name says while this process runs it.</summary>
    public static string WorkerName { get; } = $"{Environment.MachineName}:{Environment.ProcessId}";

    /// <summary>
    /// Hangfire entry point (the dispatcher picks the queue by model and priority). Exceptions escape only for infrastructure
    /// faults (database unreachable) and for shutdown, after the claim has been handed back, so that Hangfire delivers
    /// the job again. A cancel request, a passed cancel_after or a lost claim stop the run between denoising steps
    /// (<see cref="RunningJobWatcher"/>); the worker then serves its next job.
    /// </summary>
    [AutomaticRetry(Attempts = 3)]
    [DisplayName("job {0}")]
    public async Task RunAsync(Guid jobId, CancellationToken cancellationToken)
    {
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["JobId"] = jobId });
        TestKillPoint.Reach(TestKillPoint.Fetched, jobId, logger);
        var job = await db.Jobs.SingleOrDefaultAsync(j => j.Id == jobId, cancellationToken);
        if (job is null)
        {
            logger.LogWarning("Job {JobId} does not exist; nothing to run", jobId);
            return;
        }
        using var activity = EaselTracing.StartJob(job);
        if (job.Status == JobStatus.Queued && job.Model is { } wanted && !localModels.TryGet(wanted, out _))
        {
            // Not this worker's model (a queue shared by accident, or configuration changed under a queued job): the job
            // goes to its model's queue instead of failing here.
            logger.LogWarning("Job {JobId} is for model {Model}, which this worker does not serve; dispatched to {Queue}", jobId, wanted,
                WorkerQueues.ForJob(job));
            dispatcher.Dispatch(job);
            return;
        }
        if (!await TryClaimAsync(job, cancellationToken))
            return;
        TestKillPoint.Reach(TestKillPoint.Claimed, jobId, logger);

        var started = time.GetTimestamp();
        var attempt = job.Attempts;
        var model = "";
        using var run = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        await using var watcher = RunningJobWatcher.Start(scopes, time, options.Value, jobId, attempt, run, logger);
        try
        {
            model = job.Model ?? "";
            var kind = kinds.SingleOrDefault(k => k.Kind == job.Kind)
                ?? throw new NotSupportedException($"This worker cannot run jobs of kind {job.Kind}.");
            var progress = new JobProgressWriter(db, time, options.Value, job, watcher);
            var results = await kind.RunAsync(new JobRun(job, db, progress, run.Token));
            if (!await CompleteAsync(job.Id, attempt, model, results, cancellationToken))
                return;
            metrics.JobFinished(job.Kind, JobStatus.Succeeded, model, time.GetElapsedTime(started));
            logger.LogInformation("Job {JobId} succeeded: {Count} image(s), {Artifacts} artifact(s) in {Seconds:F1} s", jobId,
                results.Images.Count, results.Artifacts.Count, time.GetElapsedTime(started).TotalSeconds);
        }
        catch (JobYieldedException yielded)
        {
            logger.LogInformation("Job {JobId} yields: {Reason}", jobId, yielded.Message);
            if (await ReleaseClaimAsync(jobId, attempt, yielded: true))
                dispatcher.Dispatch(job);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            logger.LogInformation("Worker is stopping; job {JobId} goes back to the queue", jobId);
            await ReleaseClaimAsync(jobId, attempt);
            throw;
        }
        catch (OperationCanceledException) when (watcher.Stop is { } stop)
        {
            if (stop.CancelReason is { } reason && await TransitionAsync(jobId, attempt, JobEventType.Canceled, j =>
                {
                    j.Status = JobStatus.Canceled;
                    j.Error = reason;
                    j.FinishedAt = time.GetUtcNowMilliseconds();
                }, CancellationToken.None))
            {
                logger.LogInformation("Job {JobId} stopped: {Reason}", jobId, reason);
                metrics.JobFinished(job.Kind, JobStatus.Canceled, model, time.GetElapsedTime(started));
            }
            else
            {
                logger.LogInformation("Job {JobId} stopped: it is no longer running on this worker ({Detail})", jobId, stop.Detail);
            }
        }
        catch (Exception e)
        {
            var reason = Describe(e);
            logger.LogError(e, "Job {JobId} failed: {Reason}", jobId, reason);
            await TransitionAsync(jobId, attempt, JobEventType.Failed, j =>
            {
                j.Status = JobStatus.Failed;
                j.Error = reason;
                j.FinishedAt = time.GetUtcNowMilliseconds();
            }, CancellationToken.None);
            metrics.JobFinished(job.Kind, JobStatus.Failed, model, time.GetElapsedTime(started));
        }
        finally
        {
            db.ChangeTracker.Clear();
        }
    }

    internal async Task<bool> TryClaimAsync(Job job, CancellationToken cancellationToken)
    {
        if (job.Status != JobStatus.Queued)
        {
            logger.LogInformation("Job {JobId} is already {Status}; duplicate delivery ignored", job.Id, job.Status);
            return false;
        }
        var now = time.GetUtcNowMilliseconds();
        var expired = job.CancelAfter <= now;
        if (expired)
        {
            // Past the client's deadline before it started: the sweep would cancel it; do it here instead of running it.
            job.Status = JobStatus.Canceled;
            job.Error = CancelAfterPassed;
            job.FinishedAt = now;
        }
        else
        {
            job.Status = JobStatus.Running;
            job.StartedAt = now;
            job.Attempts++;
            job.ProgressStep = 0;
            job.ProgressTotal = 0;
            job.Error = null;
            job.WorkerName = WorkerName;
            job.HeartbeatAt = now;
        }
        job.Version = Guid.NewGuid();
        JobEventLog.Append(db, job, expired ? JobEventType.Canceled : JobEventType.Started, now);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateConcurrencyException)
        {
            logger.LogInformation("Job {JobId} was claimed by another worker; duplicate delivery ignored", job.Id);
            db.ChangeTracker.Clear();
            return false;
        }
        // From here on the row changes only through conditional updates; the object stays as a snapshot for event bodies.
        db.ChangeTracker.Clear();
        if (expired)
        {
            logger.LogInformation("Job {JobId} canceled before it started: {Reason}", job.Id, CancelAfterPassed);
            return false;
        }
        metrics.JobStarted(job.Kind, now - job.CreatedAt);
        return true;
    }

    /// <summary>The error of a job stopped by its cancel_after deadline.</summary>
    public const string CancelAfterPassed = "cancel_after deadline passed";

    /// <summary>The error of a job stopped by POST /v1/jobs/{id}/cancel.</summary>
    public const string CanceledByClient = "canceled by the client";

    /// <summary>
    /// Stores the results (image blobs, then the image and artifact rows with the succeeded transition) and marks the job
    /// succeeded; false when the job changed meanwhile (results discarded).
    /// </summary>
    private async Task<bool> CompleteAsync(Guid jobId, int attempt, string model, JobResults results, CancellationToken cancellationToken)
    {
        foreach (var (row, png) in results.Images)
        {
            var blob = await blobs.PutAsync(png, cancellationToken);
            row.BlobKey = blob.Key;
            row.Sha256 = blob.Sha256;
            row.ByteSize = blob.ByteSize;
        }
        var completed = await TransitionAsync(jobId, attempt, JobEventType.Succeeded, job =>
        {
            job.Artifacts = [.. results.Artifacts.Select(ArtifactSummary.From)];
            // Added explicitly (their ids are set, so fix-up alone would take them for existing rows), before the event:
            // the succeeded body lists the images and artifacts.
            db.Images.AddRange(results.Images.Select(r => r.Row));
            db.Artifacts.AddRange(results.Artifacts);
            foreach (var followUp in results.FollowUps)
            {
                db.Jobs.Add(followUp);
                JobEventLog.Append(db, followUp, JobEventType.Queued, time.GetUtcNowMilliseconds());
            }
            job.Status = JobStatus.Succeeded;
            job.FinishedAt = time.GetUtcNowMilliseconds();
            job.ProgressStep = results.Steps;
            job.ProgressTotal = Math.Max(job.ProgressTotal, results.Steps);
        }, cancellationToken);
        if (!completed)
        {
            logger.LogInformation("Job {JobId} stopped running on this worker before its results were saved; results discarded", jobId);
            return false;
        }
        if (results.Images.Count > 0)
            metrics.ImagesStored(model, results.Images.Count);
        // Committed with the success; a dispatch lost to a crash here is the recovery sweep's, as for any queued row.
        foreach (var followUp in results.FollowUps)
        {
            dispatcher.Dispatch(followUp);
            metrics.JobSubmitted(followUp.Kind);
        }
        return true;
    }

    /// <summary>
    /// Applies a transition to the job while this claim (status running, attempt number) still holds, with its event in
    /// the same SaveChanges. A concurrent change of the row (a cancel request bumps the version) is re-read and retried;
    /// false when the claim is gone (canceled, taken back by the recovery sweep).
    /// </summary>
    private async Task<bool> TransitionAsync(Guid jobId, int attempt, JobEventType type, Action<Job> apply, CancellationToken cancellationToken)
    {
        for (var tries = 0; tries < 5; tries++)
        {
            db.ChangeTracker.Clear();
            var job = await db.Jobs.SingleOrDefaultAsync(j => j.Id == jobId, cancellationToken);
            if (job is null || job.Status != JobStatus.Running || job.Attempts != attempt)
                return false;
            apply(job);
            job.Version = Guid.NewGuid();
            JobEventLog.Append(db, job, type, time.GetUtcNowMilliseconds());
            try
            {
                await db.SaveChangesAsync(cancellationToken);
                return true;
            }
            catch (DbUpdateConcurrencyException)
            {
            }
        }
        db.ChangeTracker.Clear();
        return false;
    }

    /// <summary>
    /// Worker shutdown or a yield: the claim goes back (queued, with its event); on shutdown Hangfire delivers the job again,
    /// a yield dispatches it anew. False when the claim was already gone.
    /// </summary>
    private async Task<bool> ReleaseClaimAsync(Guid jobId, int attempt, bool yielded = false)
    {
        return await TransitionAsync(jobId, attempt, JobEventType.Queued, job =>
        {
            // A yield is no failed attempt: it must not bring a long fine-tune closer to MaxAttempts.
            if (yielded)
                job.Attempts = attempt - 1;
            job.Status = JobStatus.Queued;
            job.StartedAt = null;
            job.ProgressStep = 0;
            job.WorkerName = null;
            job.HeartbeatAt = null;
        }, CancellationToken.None);
    }

    /// <summary>What the client reads in <c>error</c>: the message of the exception, never a stack trace.</summary>
    internal static string Describe(Exception e)
    {
        var message = e switch
        {
            ArgumentException or NotSupportedException or InvalidOperationException or FileNotFoundException
                or DirectoryNotFoundException or InvalidDataException or OperationCanceledException or IOException => e.Message,
            OutOfMemoryException => "The worker ran out of memory.",
            _ => $"{e.GetType().Name}: {e.Message}",
        };
        return message.Length <= 4000 ? message : message[..3997] + "...";
    }
}
