using Easel.Core;
using Easel.Core.Generation;
using Easel.Core.Images;
using Easel.Core.Jobs;
using Easel.Core.Options;
using Easel.Core.Storage;
using Easel.Core.Telemetry;
using Easel.Inference.Imaging;
using Easel.Inference.Pipelines;
using Easel.Workers.Artifacts;
using Easel.Workers.Jobs;
using Easel.Workers.Models;
using Microsoft.Extensions.Options;

namespace Easel.Workers.Generation;

/// <summary>
/// The generation kind: the stored <see cref="GenerationParameters"/> with their LoRAs and embeddings run on the cached
/// pipeline of the job's model; the images go back to <see cref="JobRunner"/>, which stores them.
/// </summary>
public sealed class GenerationRunner(
    ModelCache models,
    IBlobStore blobs,
    RequestArtifacts artifacts,
    SchedulerCatalog schedulers,
    EaselMetrics metrics,
    TimeProvider time,
    IOptions<WorkerOptions> options) : IJobKindRunner
{
    public JobKind Kind => JobKind.Generation;

    public async Task<JobResults> RunAsync(JobRun run)
    {
        var (job, p) = (run.Job, run.Job.ReadRequest<GenerationParameters>());
        using var loaded = await artifacts.LoadAsync(run.Db, p, run.CancellationToken);
        using var lease = models.Acquire(p.Model);
        var request = ToPipelineRequest(p) with
        {
            Loras = loaded.Loras.Count > 0 ? loaded.Loras : null,
            Embeddings = loaded.Embeddings.Count > 0 ? loaded.Embeddings : null,
        };
        var progress = new DenoisingReports(run.Progress, metrics, time, options.Value, p.Model);
        progress.Report(new DenoisingProgress(0, p.Steps)); // the total is known before the first step
        var images = lease.Model.Generate(request, progress, run.CancellationToken);
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
        return new JobResults(results, [], p.Steps);
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

    /// <summary>
    /// Denoising steps → the job's progress: the step-time metric, and a preview event every <c>PreviewEvery</c> steps
    /// (not the last: the finished images follow at once).
    /// </summary>
    private sealed class DenoisingReports(JobProgressWriter progress, EaselMetrics metrics, TimeProvider time, WorkerOptions options,
        string model) : IProgress<DenoisingProgress>
    {
        private long _lastStep = time.GetTimestamp();

        public void Report(DenoisingProgress value)
        {
            var now = time.GetTimestamp();
            if (value.Step > 0)
                metrics.DenoisingStep(model, time.GetElapsedTime(_lastStep, now));
            _lastStep = now;
            var preview = options.PreviewEvery > 0 && value.Step > 0 && value.Step < value.TotalSteps && value.Step % options.PreviewEvery == 0
                && value.Latents is not null && value.LatentFormat is not null ? Preview(value) : null;
            progress.Report(value.Step, value.TotalSteps, extra: preview is null ? null : [(JobEventType.Preview, preview)]);
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
