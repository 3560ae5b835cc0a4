using System.Text.Json;
using System.Text.Json.Nodes;
using Easel.Inference.Customization;
using Easel.Inference.Loading;
using Easel.Inference.Models.UNet;
using Easel.Inference.Pipelines;
using Easel.Inference.Schedulers;
using Easel.Inference.Shapes;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Training.Control;

/// <summary>
/// What the bundled control models' trainers share: the shapes model frozen, a seeded stream of fresh scenes (rendered,
/// encoded by the model's VAE), the model's own diffusion loss with the control model's conditioning added to the UNet
/// call (Zhang et al. 2023, eq. 2; Mou et al. 2023, eq. 5; Li et al. 2023, eq. 4 are this loss with their conditions), and a
/// <see cref="TrainingLoop"/> that checkpoints into the work folder and resumes from it. Step i's scenes, latent samples,
/// noise, timesteps and caption drops come from a generator seeded by (seed, i), so a resumed run repeats the
/// uninterrupted one.
/// </summary>
public sealed class ShapesControlTrainer : IDisposable
{
    private readonly StableDiffusionPipeline _pipeline;
    private readonly FrozenModels _frozen;
    private readonly ShapesDataset _scenes;
    private readonly LatentDiffusionObjective _objective;
    private readonly ControlTrainingSettings _settings;
    private readonly string _workFolder;

    /// <param name="baseModelFolder">The bundled model's diffusers folder (models/easel-shapes).</param>
    /// <param name="unet">A UNet to train against instead of the folder's (GLIGEN's, which adds grounding layers to it); it is
    /// frozen like the folder's, except for the modules <see cref="Train"/> is given.</param>
    public ShapesControlTrainer(string baseModelFolder, string workFolder, ControlTrainingSettings settings, UNet2DConditionModel? unet = null)
    {
        _settings = settings;
        _workFolder = workFolder;
        _pipeline = StableDiffusionPipeline.Load(baseModelFolder);
        var clip = DiffusionFineTuneLoop.ClipOf(_pipeline);
        UNet = unet ?? _pipeline.UNet;
        _frozen = new FrozenModels(new nn.Module[] { _pipeline.UNet, UNet, _pipeline.Vae, clip.TextEncoder }.Distinct());
        _scenes = new ShapesDataset(settings.Seed);
        _objective = new LatentDiffusionObjective(UNet, clip.TextEncoder, clip.Tokenizer, SchedulerRegistry.FromConfig(_pipeline.SchedulerConfig),
            settings.UnconditionalRate);
    }

    public StableDiffusionPipeline Pipeline => _pipeline;

    /// <summary>The UNet the loss calls.</summary>
    public UNet2DConditionModel UNet { get; }

    /// <summary>
    /// Trains <paramref name="trained"/> until the run's last step (or <see cref="ControlTrainingSettings.StopAfter"/>),
    /// resuming from the work folder's checkpoint of <paramref name="phase"/>; returns the step reached.
    /// </summary>
    /// <param name="captionOf">The caption a scene is trained with (its own, or one that leaves something to the condition).</param>
    /// <param name="conditioningFor">The step's UNet conditioning from its batch and (z_t, t, text states).</param>
    public int Train(string phase, IReadOnlyList<TrainableModule> trained, Func<GeneratedScene, Generator, string> captionOf,
        Func<ShapesControlBatch, Tensor, Tensor, Tensor, UNetConditioning?> conditioningFor, IProgress<TrainingProgress>? progress,
        Action<string> log, CancellationToken cancellationToken = default)
    {
        foreach (var parameter in trained.SelectMany(m => m.Module.parameters()))
            parameter.requires_grad = true;
        using var loop = new TrainingLoop(phase, trained,
            new OptimizerSettings { LearningRate = _settings.LearningRate, WarmupSteps = _settings.WarmupSteps, WeightDecay = 0 },
            _settings.Steps, _workFolder)
        {
            CheckpointEvery = _settings.CheckpointEvery,
            StopAfter = _settings.StopAfter,
        };
        if (loop.TryResume())
            log($"{phase}: resumed at step {loop.Step}");
        loop.Run(step =>
        {
            var batch = Batch(phase, step, captionOf);
            return _objective.Loss(batch.Latents, batch.Captions, batch.Generator,
                (noisy, timesteps, text) => conditioningFor(batch, noisy, timesteps, text));
        }, progress, cancellationToken);
        return loop.Step;
    }

    /// <summary>Step <paramref name="step"/>'s scenes (fresh ones every step: the stream is endless) and their latents.</summary>
    public ShapesControlBatch Batch(string phase, int step, Func<GeneratedScene, Generator, string> captionOf)
    {
        var generator = StepGenerator(phase, step);
        var first = (ulong)step * (ulong)_settings.Batch;
        var scenes = Enumerable.Range(0, _settings.Batch).Select(i => _scenes.Scene(first + (ulong)i)).ToList();
        var pixels = new byte[scenes.Count * ShapesControlBatch.ImageBytes];
        Parallel.For(0, scenes.Count, i =>
            ShapeRenderer.Render(scenes[i].Scene, pixels.AsSpan(i * ShapesControlBatch.ImageBytes, ShapesControlBatch.ImageBytes)));
        var images = torch.tensor(pixels, [scenes.Count, ShapeRenderer.Size, ShapeRenderer.Size, 3], dtype: ScalarType.Byte)
            .permute(0, 3, 1, 2).to(float32) / 127.5 - 1; // (B, 3, 64, 64) in [-1, 1]
        Tensor latents;
        using (torch.no_grad())
        using (var posterior = _pipeline.Vae.Encode(images))
            latents = posterior.Sample(generator) * _pipeline.Vae.Config.ScalingFactor;
        var captions = scenes.Select(s => captionOf(s, generator)).ToList();
        return new ShapesControlBatch(scenes, pixels, latents, captions, generator);
    }

    /// <summary>
    /// Writes a trained control model as diffusers does: its config.json and its weights as float16 safetensors whose
    /// metadata records the recipe, the seed and the step.
    /// </summary>
    public static void Export(string folder, JsonObject config, nn.Module model, string trainedBy, ControlTrainingSettings settings, int step,
        string weightsFile = "diffusion_pytorch_model.safetensors")
    {
        Directory.CreateDirectory(folder);
        WriteJson(Path.Combine(folder, "config.json"), config);
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt", ["trained_by"] = trainedBy, ["seed"] = settings.Seed.ToString(), ["step"] = step.ToString(),
        };
        SafeTensorsWriter.Write(Path.Combine(folder, weightsFile), TrainingLoop.StateOf(model), ScalarType.Float16, metadata);
    }

    /// <summary>Writes an indented JSON file as the exported folders hold them.</summary>
    public static void WriteJson(string path, JsonObject json) =>
        File.WriteAllText(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

    private Generator StepGenerator(string phase, int step)
    {
        var phaseSalt = phase.Aggregate(17UL, (h, c) => h * 31 + c);
        return new Generator((_settings.Seed * 1_000_003UL) ^ (phaseSalt << 20) ^ (ulong)step, CPU);
    }

    public void Dispose()
    {
        _frozen.Dispose();
        _pipeline.Dispose();
    }
}
