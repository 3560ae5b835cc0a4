using Easel.Inference.Pipelines;
using Easel.Inference.Schedulers;
using Easel.Inference.Text;
using Easel.Inference.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Customization;

/// <summary>
/// What the fine-tunes that train against the diffusion loss share: the pipeline's models frozen, the examples encoded
/// once by its VAE, <see cref="LatentDiffusionObjective"/> over the pipeline's noise schedule and a <see cref="TrainingLoop"/>
/// over the method's tensors that checkpoints into <see cref="FineTuneSettings.CheckpointFolder"/> and resumes from it.
/// A step's batch, latent sample, noise and timesteps all come from a generator seeded by (seed, step), so a resumed
/// run repeats the uninterrupted one bit for bit. AdamW at a constant learning rate (the default of diffusers'
/// train_text_to_image_lora.py and textual_inversion.py), gradients clipped to norm 1.
/// </summary>
internal sealed class DiffusionFineTuneLoop : IDisposable
{
    private readonly FineTuneSettings _settings;
    private readonly FrozenModels _frozen;
    private readonly IScheduler _noiseSchedule;
    private readonly LatentDiffusionObjective _objective;
    private readonly TrainingLoop _loop;
    private readonly Tensor _mean;
    private readonly Tensor _std;
    private readonly float _scalingFactor;

    /// <param name="phase">The method's name: the checkpoint sub-folder and the progress reports' phase.</param>
    /// <param name="trained">The method's tensors (the only ones with requires_grad); loaded from the checkpoint when there is one.</param>
    /// <param name="tokenizer">The captions' tokenizer (with the method's added tokens, if any).</param>
    /// <param name="addedTokenRows">The rows of <paramref name="tokenizer"/>'s added tokens, or null.</param>
    /// <exception cref="ArgumentException">Settings a run cannot use (names the setting).</exception>
    public DiffusionFineTuneLoop(StableDiffusionPipeline pipeline, FineTuneSettings settings, string phase, TrainableTensors trained,
        ClipTokenizer tokenizer, Tensor? addedTokenRows = null)
    {
        var clip = ClipOf(pipeline);
        Validate(pipeline, settings);
        _settings = settings;
        _frozen = new FrozenModels([pipeline.UNet, pipeline.Vae, clip.TextEncoder]);
        try
        {
            (_mean, _std) = EncodeExamples(pipeline, settings.Examples);
            _scalingFactor = (float)pipeline.Vae.Config.ScalingFactor;
            _noiseSchedule = SchedulerRegistry.FromConfig(pipeline.SchedulerConfig);
            _objective = new LatentDiffusionObjective(pipeline.UNet, clip.TextEncoder, tokenizer, _noiseSchedule, unconditionalRate: 0,
                addedTokenRows: addedTokenRows);
            var optimizer = new OptimizerSettings { LearningRate = settings.LearningRate, WarmupSteps = 0, FinalLearningRateFraction = 1.0 };
            _loop = new TrainingLoop(phase, [new TrainableModule(trained.GetName(), trained)], optimizer, settings.Steps, settings.CheckpointFolder)
            {
                CheckpointEvery = settings.CheckpointEvery,
            };
            _loop.TryResume();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int TotalSteps => _loop.TotalSteps;

    public int Step => _loop.Step;

    /// <summary>The SD 1.x/2.x prompt conditioner: the only family these fine-tunes train on so far.</summary>
    /// <exception cref="NotSupportedException">An SDXL pipeline (its loss also needs the pooled text and size conditioning).</exception>
    public static ClipPromptConditioner ClipOf(StableDiffusionPipeline pipeline) =>
        pipeline.Conditioner as ClipPromptConditioner
        ?? throw new NotSupportedException($"Fine-tuning is implemented for SD 1.x/2.x models; '{pipeline.Folder}' is {pipeline.Family}.");

    /// <summary>Runs steps until <paramref name="stopAt"/> (at most <see cref="TotalSteps"/>), checkpointing there.</summary>
    public void RunUntil(int stopAt, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken)
    {
        _loop.StopAfter = Math.Clamp(stopAt, 0, TotalSteps);
        _loop.Run(LossAt, progress, cancellationToken);
    }

    /// <summary>
    /// Step <paramref name="step"/>'s loss. Draw order from its generator: the batch (a permutation of the examples, cycled
    /// when the batch is larger), the latents' posterior samples, then the objective's timesteps and noise.
    /// </summary>
    private Tensor LossAt(int step)
    {
        using var generator = new Generator(StepSeed(_settings.Seed, step), CPU);
        var count = _settings.Examples.Count;
        var order = torch.randperm(count, generator: generator).data<long>().ToArray();
        var picked = Enumerable.Range(0, _settings.BatchSize).Select(i => order[i % count]).ToArray();
        var rows = torch.tensor(picked, dtype: int64, device: _mean.device);
        var mean = _mean.index_select(0, rows); // (B, C, h, w)
        var std = _std.index_select(0, rows);
        var eps = torch.randn(mean.shape, dtype: float32, generator: generator).to(mean.device);
        var latents = (mean + std * eps) * _scalingFactor; // z = scaling_factor · (μ + σ·ε)
        var captions = picked.Select(i => _settings.Examples[(int)i].Caption).ToList();
        return _objective.Loss(latents, captions, generator);
    }

    /// <summary>A 64-bit seed per (seed, step): SplitMix64 of both, so neighbouring steps and seeds get unrelated streams.</summary>
    private static ulong StepSeed(int seed, int step)
    {
        var z = ((ulong)(uint)seed << 32) | (uint)step;
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The examples' VAE posteriors, mean and std (N, C, h, w) in float32 on the pipeline's device.</summary>
    private static (Tensor Mean, Tensor Std) EncodeExamples(StableDiffusionPipeline pipeline, IReadOnlyList<FineTuneExample> examples)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var device = pipeline.Placement.Device;
        var vaeDType = pipeline.Vae.parameters().First().dtype;
        var means = new List<Tensor>(examples.Count);
        var stds = new List<Tensor>(examples.Count);
        foreach (var example in examples)
        {
            var pixels = example.Image.ToRgbTensor(device) * 2 - 1; // (1, 3, H, W) in [-1, 1]
            using var posterior = pipeline.Vae.Encode(pixels.to(vaeDType));
            means.Add(posterior.Mean.to(float32));
            stds.Add(posterior.Std.to(float32));
        }
        return (torch.cat(means, 0).MoveToOuterDisposeScope(), torch.cat(stds, 0).MoveToOuterDisposeScope());
    }

    private static void Validate(StableDiffusionPipeline pipeline, FineTuneSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        static void Require(bool ok, string setting, string message)
        {
            if (!ok)
                throw new ArgumentException(message, setting);
        }
        Require(settings.Examples is { Count: > 0 }, nameof(settings.Examples), "A fine-tune needs at least one example.");
        var first = settings.Examples[0].Image;
        var factor = pipeline.VaeScaleFactor;
        Require(settings.Examples.All(e => e.Image.Width == first.Width && e.Image.Height == first.Height), nameof(settings.Examples),
            $"Every example must have the run's resolution, {first.Width}×{first.Height} (the first one's).");
        Require(first.Width % factor == 0 && first.Height % factor == 0, nameof(settings.Examples),
            $"The examples' size must be a multiple of {factor}; got {first.Width}×{first.Height}.");
        Require(settings.Examples.All(e => !string.IsNullOrWhiteSpace(e.Caption)), nameof(settings.Examples), "Every example needs a caption.");
        Require(settings.Steps >= 1, nameof(settings.Steps), $"Steps must be at least 1; got {settings.Steps}.");
        Require(settings.BatchSize >= 1, nameof(settings.BatchSize), $"BatchSize must be at least 1; got {settings.BatchSize}.");
        Require(double.IsFinite(settings.LearningRate) && settings.LearningRate > 0, nameof(settings.LearningRate),
            $"LearningRate must be a finite number above 0; got {settings.LearningRate}.");
        Require(settings.CheckpointEvery >= 1, nameof(settings.CheckpointEvery), $"CheckpointEvery must be at least 1; got {settings.CheckpointEvery}.");
        Require(!string.IsNullOrWhiteSpace(settings.CheckpointFolder), nameof(settings.CheckpointFolder), "A fine-tune needs a checkpoint folder.");
    }

    public void Dispose()
    {
        _loop?.Dispose();
        _noiseSchedule?.Dispose();
        _mean?.Dispose();
        _std?.Dispose();
        _frozen.Dispose();
    }
}
