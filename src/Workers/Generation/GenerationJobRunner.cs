using System.ComponentModel;
using Easel.Core;
using Easel.Core.Data;
using Easel.Core.Generation;
using Easel.Core.Images;
using Easel.Core.Jobs;
using Easel.Core.Options;
using Easel.Core.Storage;
using Easel.Core.Telemetry;
using Easel.Inference.Imaging;
using Easel.Inference.Pipelines;
using Easel.Workers.Models;
using Hangfire;
using Microsoft.EntityFrameworkCore;
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
    IBlobStore blobs,
    SchedulerCatalog schedulers,
    EaselMetrics metrics,
    TimeProvider time,
    IOptions<WorkerOptions> options,
    ILogger<GenerationJobRunner> logger)
{
    public const string Queue = "gpu";

    /// <summary>
    /// Hangfire entry point. Exceptions escape only for infrastructure faults (database unreachable) and for
    /// shutdown, after the claim has been handed back, so that Hangfire delivers the job again.
    /// </summary>
    [Queue(Queue)]
    [AutomaticRetry(Attempts = 3)]
    [DisplayName("generation {0}")]
    public async Task RunAsync(Guid jobId, CancellationToken cancellationToken)
    {
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["JobId"] = jobId });
        var job = await db.Jobs.SingleOrDefaultAsync(j => j.Id == jobId, cancellationToken);
        if (job is null)
        {
            logger.LogWarning("Job {JobId} does not exist; nothing to run", jobId);
            return;
        }
        if (!await TryClaimAsync(job, cancellationToken))
            return;

        var started = time.GetTimestamp();
        var model = "";
        try
        {
            var parameters = job.ReadRequest<GenerationParameters>();
            model = parameters.Model;
            var stored = Generate(job, parameters, cancellationToken);
            if (!await CompleteAsync(job, parameters, stored, cancellationToken))
                return;
            metrics.JobFinished(job.Kind, JobStatus.Succeeded, model, time.GetElapsedTime(started));
            logger.LogInformation("Job {JobId} succeeded: {Count} image(s) in {Seconds:F1} s", jobId, stored.Count,
                time.GetElapsedTime(started).TotalSeconds);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            logger.LogInformation("Worker is stopping; job {JobId} goes back to the queue", jobId);
            await ReleaseClaimAsync(jobId);
            throw;
        }
        catch (Exception e)
        {
            var reason = Describe(e);
            logger.LogError(e, "Job {JobId} failed: {Reason}", jobId, reason);
            await MarkFailedAsync(jobId, reason, CancellationToken.None);
            metrics.JobFinished(job.Kind, JobStatus.Failed, model, time.GetElapsedTime(started));
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
        job.Status = JobStatus.Running;
        job.StartedAt = now;
        job.Attempts++;
        job.ProgressStep = 0;
        job.ProgressTotal = 0;
        job.Error = null;
        job.Version = Guid.NewGuid();
        JobEventLog.Append(db, job, JobEventType.Started, now);
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
        metrics.JobStarted(job.Kind, now - job.CreatedAt);
        return true;
    }

    private List<(Image Row, ReadOnlyMemory<byte> Png)> Generate(Job job, GenerationParameters p, CancellationToken cancellationToken)
    {
        using var lease = models.Acquire(p.Model);
        var request = ToPipelineRequest(p);
        var progress = new ProgressWriter(db, time, metrics, options.Value.ProgressInterval, job.Id, p.Model);
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
                Seed = p.Seed,
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
    internal Inference.Pipelines.GenerationRequest ToPipelineRequest(GenerationParameters p)
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
    private async Task<bool> CompleteAsync(Job job, GenerationParameters p, List<(Image Row, ReadOnlyMemory<byte> Png)> results,
        CancellationToken cancellationToken)
    {
        foreach (var (row, png) in results)
        {
            var blob = await blobs.PutAsync(png, cancellationToken);
            row.BlobKey = blob.Key;
            row.Sha256 = blob.Sha256;
            row.ByteSize = blob.ByteSize;
        }
        // Progress was written with ExecuteUpdate; reload so the tracked row matches before the final transition.
        await db.Entry(job).ReloadAsync(cancellationToken);
        if (job.Status != JobStatus.Running)
        {
            logger.LogInformation("Job {JobId} became {Status} while running; results discarded", job.Id, job.Status);
            return false;
        }
        db.Images.AddRange(results.Select(r => r.Row));
        job.Status = JobStatus.Succeeded;
        job.FinishedAt = time.GetUtcNowMilliseconds();
        job.ProgressStep = p.Steps;
        job.ProgressTotal = Math.Max(job.ProgressTotal, p.Steps);
        job.Version = Guid.NewGuid();
        JobEventLog.Append(db, job, JobEventType.Succeeded, job.FinishedAt.Value);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateConcurrencyException)
        {
            logger.LogInformation("Job {JobId} changed while its results were being saved; results discarded", job.Id);
            db.ChangeTracker.Clear();
            return false;
        }
        metrics.ImagesStored(p.Model, results.Count);
        return true;
    }

    private async Task MarkFailedAsync(Guid jobId, string reason, CancellationToken cancellationToken)
    {
        db.ChangeTracker.Clear();
        var now = time.GetUtcNowMilliseconds();
        await db.Jobs
            .Where(j => j.Id == jobId && j.Status == JobStatus.Running)
            .ExecuteUpdateAsync(s => s
                .SetProperty(j => j.Status, JobStatus.Failed)
                .SetProperty(j => j.Error, reason)
                .SetProperty(j => j.FinishedAt, now)
                .SetProperty(j => j.Version, Guid.NewGuid()), cancellationToken);
    }

    private async Task ReleaseClaimAsync(Guid jobId)
    {
        db.ChangeTracker.Clear();
        await db.Jobs
            .Where(j => j.Id == jobId && j.Status == JobStatus.Running)
            .ExecuteUpdateAsync(s => s
                .SetProperty(j => j.Status, JobStatus.Queued)
                .SetProperty(j => j.StartedAt, (DateTimeOffset?)null)
                .SetProperty(j => j.ProgressStep, 0)
                .SetProperty(j => j.Version, Guid.NewGuid()), CancellationToken.None);
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

    /// <summary>Writes step/total to the job row at most once per <c>ProgressInterval</c> (and always the last step).</summary>
    private sealed class ProgressWriter(EaselDbContext db, TimeProvider time, EaselMetrics metrics, TimeSpan interval, Guid jobId,
        string model) : IProgress<DenoisingProgress>
    {
        private long _lastWrite;
        private long _lastStep = time.GetTimestamp();

        public void Report(DenoisingProgress value)
        {
            var now = time.GetTimestamp();
            if (value.Step > 0)
                metrics.DenoisingStep(model, time.GetElapsedTime(_lastStep, now));
            _lastStep = now;
            if (value.Step < value.TotalSteps && _lastWrite != 0 && time.GetElapsedTime(_lastWrite, now) < interval)
                return;
            _lastWrite = now;
            db.Jobs
                .Where(j => j.Id == jobId && j.Status == JobStatus.Running)
                .ExecuteUpdate(s => s
                    .SetProperty(j => j.ProgressStep, value.Step)
                    .SetProperty(j => j.ProgressTotal, value.TotalSteps));
        }
    }
}
