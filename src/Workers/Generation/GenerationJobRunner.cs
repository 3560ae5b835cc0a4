using System.ComponentModel;
using Easel.Core;
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

namespace Easel.Workers.Generation;

/// <summary>
/// Runs one generation job. Hangfire carries only the job id; the row says what to do. The job is claimed with a
/// queued → running transition guarded by the row's concurrency token, so a duplicate delivery does nothing.
/// A failure of the request or the model marks the job failed with a readable reason and returns normally, so the
/// worker keeps serving and Hangfire does not retry a deterministic failure.
/// </summary>
public sealed class GenerationJobRunner(
    EaselDbContext db,
    ModelCache models,
    ILocalModels localModels,
    IJobDispatcher dispatcher,
    IBlobStore blobs,
    RequestArtifacts artifacts,
    SchedulerCatalog schedulers,
    EaselMetrics metrics,
    TimeProvider time,
    IOptions<WorkerOptions> options,
    IServiceScopeFactory scopes,
    ILogger<GenerationJobRunner> logger)
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
    [DisplayName("generation {0}")]
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
            var parameters = job.ReadRequest<GenerationParameters>();
            model = parameters.Model;
            using var loaded = await artifacts.LoadAsync(db, parameters, run.Token);
            var stored = Generate(job, parameters, loaded, watcher, run.Token);
            if (!await CompleteAsync(job.Id, attempt, parameters, stored, cancellationToken))
                return;
            metrics.JobFinished(job.Kind, JobStatus.Succeeded, model, time.GetElapsedTime(started));
            logger.LogInformation("Job {JobId} succeeded: {Count} image(s) in {Seconds:F1} s", jobId, stored.Count,
                time.GetElapsedTime(started).TotalSeconds);
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

    private List<(Image Row, ReadOnlyMemory<byte> Png)> Generate(Job job, GenerationParameters p, LoadedArtifacts loaded,
        RunningJobWatcher watcher, CancellationToken cancellationToken)
    {
        using var lease = models.Acquire(p.Model);
        var request = ToPipelineRequest(p) with
        {
            Loras = loaded.Loras.Count > 0 ? loaded.Loras : null,
            Embeddings = loaded.Embeddings.Count > 0 ? loaded.Embeddings : null,
        };
        var progress = new ProgressWriter(db, time, metrics, options.Value, job, p.Model, watcher);
        progress.Report(new DenoisingProgress(0, p.Steps)); // the total is known before the first step
        var images = lease.Model.Generate(request, progress, cancellationToken);
        if (images.Count != p.NumImages)
            throw new InvalidOperationException($"The pipeline returned {images.Count} image(s) for num_images = {p.NumImages}.");

        var now = time.GetUtcNowMilliseconds();
        var results = new List<(Image, ReadOnlyMemory<byte>)>(images.Count);
        for (var i = 0; i < images.Count; i++)
        {
            var png = PngEncoder.Encode(images[i], GenerationMetadata.TextChunks(job.Id, i, p, schedulers));
            results.Add((new Image
            {
                Id = Guid.CreateVersion7(now),
                JobId = job.Id,
                Index = i,
                Width = images[i].Width,
                Height = images[i].Height,
                Seed = GenerationMetadata.ImageSeed(p, i) ?? p.Seed, // batch mode: the batch's seed, with the index
                ContentType = "image/png",
                CreatedAt = now,
            }, png));
        }
        return results;
    }

    /// <summary>
    /// Core's stored request → the inference core's request of the same mode. Input images come back from the blob
    /// store as the normalized PNGs the API wrote (RGB image, gray mask); the scheduler is the canonical name.
    /// </summary>
    internal Inference.Pipelines.GenerationRequest ToPipelineRequest(GenerationParameters p) => ToModeRequest(p) with
    {
        SeedMode = p.SeedMode == Core.Generation.SeedMode.Batch ? Inference.Pipelines.SeedMode.Batch : Inference.Pipelines.SeedMode.PerImage,
    };

    private Inference.Pipelines.GenerationRequest ToModeRequest(GenerationParameters p)
    {
        switch (p.Mode)
        {
            case GenerationMode.TextToImage:
                return new TextToImageRequest(p.Prompt, p.NegativePrompt, p.Width, p.Height, p.Steps, p.GuidanceScale, p.Seed,
                    p.Scheduler, p.NumImages);
            case GenerationMode.ImageToImage:
                return new ImageToImageRequest(p.Prompt, p.NegativePrompt, ReadInput(p.Image, "image", grayscale: false),
                    p.Strength ?? 0.8, p.Steps, p.GuidanceScale, p.Seed, p.Scheduler, p.NumImages);
            case GenerationMode.Inpaint:
                return new InpaintRequest(p.Prompt, p.NegativePrompt, ReadInput(p.Image, "image", grayscale: false),
                    ReadInput(p.Mask, "mask", grayscale: true), p.Steps, p.GuidanceScale, p.Seed, p.Strength ?? 1.0, p.Scheduler,
                    p.NumImages);
            default:
                throw new NotSupportedException($"Generation mode '{p.Mode}' is not supported by this worker.");
        }
    }

    private InputImage ReadInput(StoredInputImage? stored, string field, bool grayscale)
    {
        if (stored is null)
            throw new InvalidDataException($"The job's request has no {field}.");
        using var stream = blobs.OpenRead(stored.Blob)
            ?? throw new InvalidDataException($"The {field} of this job (blob {stored.Blob}) is no longer stored.");
        var (width, height, pixels) = InputImageDecoder.ReadStoredPng(stream, grayscale);
        return grayscale ? InputImage.FromGray(width, height, pixels) : InputImage.FromRgb(width, height, pixels);
    }

    /// <summary>Stores the images and marks the job succeeded; false when the job changed meanwhile (results discarded).</summary>
    private async Task<bool> CompleteAsync(Guid jobId, int attempt, GenerationParameters p, List<(Image Row, ReadOnlyMemory<byte> Png)> results,
        CancellationToken cancellationToken)
    {
        foreach (var (row, png) in results)
        {
            var blob = await blobs.PutAsync(png, cancellationToken);
            row.BlobKey = blob.Key;
            row.Sha256 = blob.Sha256;
            row.ByteSize = blob.ByteSize;
        }
        var completed = await TransitionAsync(jobId, attempt, JobEventType.Succeeded, job =>
        {
            // Added explicitly (their ids are set, so fix-up alone would take them for existing rows), before the event:
            // the succeeded body lists the images.
            db.Images.AddRange(results.Select(r => r.Row));
            job.Status = JobStatus.Succeeded;
            job.FinishedAt = time.GetUtcNowMilliseconds();
            job.ProgressStep = p.Steps;
            job.ProgressTotal = Math.Max(job.ProgressTotal, p.Steps);
        }, cancellationToken);
        if (!completed)
        {
            logger.LogInformation("Job {JobId} stopped running on this worker before its results were saved; results discarded", jobId);
            return false;
        }
        metrics.ImagesStored(p.Model, results.Count);
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

    /// <summary>Worker shutdown: the claim goes back (queued, with its event) and Hangfire delivers the job again.</summary>
    private async Task ReleaseClaimAsync(Guid jobId, int attempt)
    {
        await TransitionAsync(jobId, attempt, JobEventType.Queued, job =>
        {
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

    /// <summary>
    /// Writes step/total to the job row at most once per <c>ProgressInterval</c> (and always the last step), with a
    /// progress event, and a preview event every <c>PreviewEvery</c> steps (not the last), in one transaction. The row is updated only
    /// while this claim holds and no cancel was requested; otherwise the watcher reads the row at once and, if the run has
    /// ended, cancels it before the next step.
    /// </summary>
    private sealed class ProgressWriter(EaselDbContext db, TimeProvider time, EaselMetrics metrics, WorkerOptions options, Job job,
        string model, RunningJobWatcher watcher) : IProgress<DenoisingProgress>
    {
        private long _lastWrite;
        private long _lastStep = time.GetTimestamp();

        public void Report(DenoisingProgress value)
        {
            var now = time.GetTimestamp();
            if (value.Step > 0)
                metrics.DenoisingStep(model, time.GetElapsedTime(_lastStep, now));
            _lastStep = now;
            // No preview of the last step: the finished images follow at once.
            var preview = options.PreviewEvery > 0 && value.Step > 0 && value.Step < value.TotalSteps && value.Step % options.PreviewEvery == 0
                && value.Latents is not null && value.LatentFormat is not null ? Preview(value) : null;
            if (preview is null && value.Step < value.TotalSteps && _lastWrite != 0
                && time.GetElapsedTime(_lastWrite, now) < options.ProgressInterval)
                return;
            _lastWrite = now;

            var at = time.GetUtcNowMilliseconds();
            var (id, attempt) = (job.Id, job.Attempts);
            using var transaction = db.Database.BeginTransaction();
            var updated = db.Jobs
                .Where(j => j.Id == id && j.Status == JobStatus.Running && j.Attempts == attempt && j.CancelRequestedAt == null)
                .ExecuteUpdate(s => s
                    .SetProperty(j => j.ProgressStep, value.Step)
                    .SetProperty(j => j.ProgressTotal, value.TotalSteps)
                    .SetProperty(j => j.HeartbeatAt, at)); // progress is a sign of life too
            if (updated == 0)
            {
                transaction.Rollback();
                watcher.CheckNow(db);
                return;
            }
            job.ProgressStep = value.Step;
            job.ProgressTotal = value.TotalSteps;
            JobEventLog.Append(db, job, JobEventType.Progress, at);
            if (preview is not null)
                JobEventLog.Append(db, job, JobEventType.Preview, at, preview);
            db.SaveChanges();
            transaction.Commit();
            db.ChangeTracker.Clear();
        }

        private static object Preview(DenoisingProgress value)
        {
            var image = LatentPreview.ToImage(value.Latents!, value.LatentFormat!);
            var png = PngEncoder.Encode(image);
            return new
            {
                value.Step,
                Total = value.TotalSteps,
                image.Width,
                image.Height,
                Image = "data:image/png;base64," + Convert.ToBase64String(png),
            };
        }
    }
}
