using Easel.Core;
using Easel.Core.Generation;
using Easel.Core.Images;
using Easel.Core.Jobs;
using Easel.Core.Options;
using Easel.Core.Storage;
using Easel.Core.Telemetry;
using Easel.Inference.Control.ControlNet;
using Easel.Inference.Control.Preprocessors;
using Easel.Inference.Control.T2IAdapter;
using Easel.Inference.Pipelines.Denoising;
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

    public Task<JobResults> RunAsync(JobRun run) =>
        RunAsync(run, run.Job.ReadRequest<GenerationParameters>(), null, (model, request, progress, cancellationToken) =>
            model.Generate(request, progress, cancellationToken));

    /// <summary>
    /// Runs <paramref name="p"/> — with its artifacts loaded, its control models leased, progress reported — through
    /// <paramref name="generate"/>, and returns the images as PNGs whose metadata shows <paramref name="storedRequest"/> (the
    /// job's own request; <paramref name="p"/> when null). An edit runs its method this way on the generation it is built on.
    /// </summary>
    internal async Task<JobResults> RunAsync(JobRun run, GenerationParameters p, object? storedRequest,
        Func<IGenerationModel, Inference.Pipelines.GenerationRequest, IProgress<DenoisingProgress>, CancellationToken, IReadOnlyList<GeneratedImage>> generate)
    {
        var job = run.Job;
        using var loaded = await artifacts.LoadAsync(run.Db, p, run.CancellationToken);
        using var lease = models.Acquire(p.Model);
        using var controlLeases = new LeaseSet();
        var units = (p.Controlnets ?? []).Select(use => ToControlNetUnit(use, controlLeases.Add(models.Acquire(use.Model)).ControlNet, p.Width, p.Height)).ToList();
        using var adapters = AdapterExtensions(p, controlLeases);
        var request = ToPipelineRequest(p) with
        {
            Loras = loaded.Loras.Count > 0 ? loaded.Loras : null,
            Embeddings = loaded.Embeddings.Count > 0 ? loaded.Embeddings : null,
            Extensions = [.. units.Count > 0 ? [new ControlNetDenoisingExtension(units)] : Array.Empty<IDenoisingExtension>(), .. adapters.Extensions,
                .. AttentionGuidanceExtensions.For(p, lease.Model.Pipeline?.Tokenizer)],
        };
        var progress = new DenoisingReports(run.Progress, metrics, time, options.Value, p.Model);
        progress.Report(new DenoisingProgress(0, p.Steps)); // the total is known before the first step
        var images = generate(lease.Model, request, progress, run.CancellationToken);
        if (images.Count != p.NumImages)
            throw new InvalidOperationException($"The pipeline returned {images.Count} image(s) for num_images = {p.NumImages}.");

        var now = time.GetUtcNowMilliseconds();
        var results = new List<(Image, ReadOnlyMemory<byte>)>(images.Count);
        for (var i = 0; i < images.Count; i++)
        {
            var png = PngEncoder.Encode(images[i], GenerationMetadata.TextChunks(job.Id, i, p, schedulers, storedRequest));
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
        Grounding = p.Grounding is { } g
            ? new Inference.Control.Gligen.GligenGrounding(g.Phrases, g.Boxes.Select(b => b.Select(v => (float)v).ToArray()).ToList(), g.Beta)
            : null,
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

    internal InputImage ReadInput(StoredInputImage? stored, string field, bool grayscale)
    {
        var (width, height, pixels) = ReadPixels(stored, field, grayscale);
        return grayscale ? InputImage.FromGray(width, height, pixels) : InputImage.FromRgb(width, height, pixels);
    }

    private (int Width, int Height, byte[] Rgb) ReadPixels(StoredInputImage? stored, string field, bool grayscale)
    {
        if (stored is null)
            throw new InvalidDataException($"The job's request has no {field}.");
        using var stream = blobs.OpenRead(stored.Blob)
            ?? throw new InvalidDataException($"The {field} of this job (blob {stored.Blob}) is no longer stored.");
        return InputImageDecoder.ReadStoredPng(stream, grayscale);
    }

    /// <summary>
    /// A stored control unit → the inference core's, with its control map (<see cref="UnitMap"/>).
    /// </summary>
    private ControlNetUnit ToControlNetUnit(ControlNetUse use, ControlNetModel model, int width, int height)
    {
        var map = UnitMap(use.Image, use.Model, use.Preprocessor, use.ResizeMode, use.LowThreshold, use.HighThreshold, use.BlurSigma,
            use.PreprocessorSeed, width, height);
        var mode = use.ControlMode switch
        {
            "prompt_more_important" => ControlMode.PromptMoreImportant,
            "control_more_important" => ControlMode.ControlMoreImportant,
            _ => ControlMode.Balanced,
        };
        return new ControlNetUnit(model, map, use.Scale, use.Start, use.End, use.GuessMode, mode);
    }

    /// <summary>A stored unit image → its control map at the output size (resized by its mode, then preprocessed).</summary>
    private InputImage UnitMap(StoredInputImage? image, string model, string preprocessorName, string resizeModeName, double? lowThreshold,
        double? highThreshold, double? blurSigma, long? seed, int width, int height)
    {
        if (!ControlPreprocessors.TryGet(preprocessorName, out var preprocessor))
            throw new InvalidDataException($"The unit of '{model}' names an unknown preprocessor '{preprocessorName}'.");
        if (!ControlImageResize.TryParse(resizeModeName, out var resizeMode))
            throw new InvalidDataException($"The unit of '{model}' names an unknown resize mode '{resizeModeName}'.");
        var stored = ReadPixels(image, $"control image of '{model}'", grayscale: false);
        var defaults = PreprocessorParameters.Default;
        return ControlMap.From(stored.Rgb, stored.Width, stored.Height, width, height, resizeMode, preprocessor,
            new PreprocessorParameters(lowThreshold ?? defaults.LowThreshold, highThreshold ?? defaults.HighThreshold,
                blurSigma ?? defaults.BlurSigma, seed ?? defaults.Seed));
    }

    /// <summary>
    /// The request's T2I-Adapters as extensions, one per distinct factor: the MultiAdapter sum Σ scale_i·F_i is linear, so
    /// groups that stop at different steps add up to the same features while all are on.
    /// </summary>
    private AdapterSet AdapterExtensions(GenerationParameters p, LeaseSet leases)
    {
        var set = new AdapterSet();
        try
        {
            foreach (var group in (p.Adapters ?? []).GroupBy(a => a.Factor))
            {
                var adapterUnits = group.Select(use =>
                {
                    var model = leases.Add(models.Acquire(use.Model)).Adapter;
                    var map = UnitMap(use.Image, use.Model, use.Preprocessor, use.ResizeMode, use.LowThreshold, use.HighThreshold, use.BlurSigma,
                        use.PreprocessorSeed, p.Width, p.Height);
                    return new T2IAdapterUnit(model, set.Keep(ControlMap.ToTensor(map, model.Config.InChannels)), use.Scale);
                }).ToList();
                set.Extensions.Add(new T2IAdapterDenoisingExtension(adapterUnits, group.Key));
            }
            return set;
        }
        catch
        {
            set.Dispose();
            throw;
        }
    }

    /// <summary>A job's adapter extensions and the condition tensors they read, disposed when the job ends.</summary>
    private sealed class AdapterSet : IDisposable
    {
        private readonly List<IDisposable> _owned = [];

        public List<T2IAdapterDenoisingExtension> Extensions { get; } = [];

        public TorchSharp.torch.Tensor Keep(TorchSharp.torch.Tensor tensor)
        {
            _owned.Add(tensor);
            return tensor;
        }

        public void Dispose()
        {
            foreach (var extension in Extensions)
                extension.Dispose();
            foreach (var owned in _owned)
                owned.Dispose();
        }
    }

    /// <summary>The leases of a job's control models, released together when the job ends.</summary>
    private sealed class LeaseSet : IDisposable
    {
        private readonly List<ModelCache.ModelLease> _leases = [];

        public ModelCache.ModelLease Add(ModelCache.ModelLease lease)
        {
            _leases.Add(lease);
            return lease;
        }

        public void Dispose()
        {
            foreach (var lease in _leases)
                lease.Dispose();
        }
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
