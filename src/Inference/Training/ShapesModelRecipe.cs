using Easel.Inference.Loading;
using Easel.Inference.Models.UNet;
using Easel.Inference.Models.Vae;
using Easel.Inference.Schedulers;
using Easel.Inference.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Training;

/// <summary>Sizes and rates of the bundled shapes model's training run.</summary>
public sealed record ShapesTrainingSettings
{
    public ulong Seed { get; init; } = 20261125;
    public int VaeSteps { get; init; } = 1500;
    public int VaeBatch { get; init; } = 32;
    public double VaeLearningRate { get; init; } = 1e-3;
    public double KlWeight { get; init; } = 1e-4;
    /// <summary>How many distinct scenes the diffusion phase draws from (their latents are cached).</summary>
    public int LatentPool { get; init; } = 40_000;
    public int DiffusionSteps { get; init; } = 5000;
    public int DiffusionBatch { get; init; } = 64;
    public double DiffusionLearningRate { get; init; } = 6e-4;
    public double UnconditionalRate { get; init; } = 0.1;
    public double EmaDecay { get; init; } = 0.999;

    /// <summary>
    /// The text encoder's learning rate relative to the UNet's. Trained jointly at the same rate, the tiny encoder gives
    /// its output to the attributes the UNet learns first and lets the others collapse (models/easel-shapes/README.md).
    /// </summary>
    public double TextEncoderLearningRateScale { get; init; } = 1.0;
    public int CheckpointEvery { get; init; } = 250;

    /// <summary>
    /// The first diffusion phase's prediction type and zero-terminal-SNR rescaling when they differ from the template's
    /// scheduler config (which is the config shipped with the model, so the one the last phase trains for): pre-training
    /// with ε-prediction on SD's schedule, then adapting to v-prediction on the rescaled one, as Lin et al. (2024, §3) did
    /// for Stable Diffusion 2.1.
    /// </summary>
    public string? DiffusionPredictionType { get; init; }
    public bool? DiffusionZeroTerminalSnr { get; init; }

    /// <summary>When set, the diffusion phase ends at this step (its learning-rate schedule still spans <see cref="DiffusionSteps"/>).</summary>
    public int? DiffusionStopAfter { get; init; }

    /// <summary>
    /// A finished phase's checkpoint folder (of another run on the same autoencoder) whose EMA text encoder and UNet
    /// replace the diffusion phase: a run that only refines another's result.
    /// </summary>
    public string? StartFrom { get; init; }

    /// <summary>A phase checkpoint folder whose EMA text encoder replaces this run's before the refine phase.</summary>
    public string? TextEncoderFrom { get; init; }

    /// <summary>
    /// An optional second diffusion phase, from the first one's EMA weights, with <see cref="RefineEmphasis"/> of every
    /// batch drawing its timestep from [<see cref="RefineEmphasisFrom"/>, <see cref="RefineEmphasisTo"/>).
    /// </summary>
    public int RefineSteps { get; init; } = 0;
    public double RefineLearningRate { get; init; } = 2e-4;
    public double RefineEmphasis { get; init; } = 0;
    public int RefineEmphasisFrom { get; init; } = 0;
    public int RefineEmphasisTo { get; init; } = 1000;

    /// <summary>When positive, the refine phase weights its loss with <see cref="HighNoiseWeighting"/> at this cap.</summary>
    public double RefineHighNoiseWeightCap { get; init; } = 0;
}

/// <summary>
/// Trains the bundled model from scratch, reproducibly: the autoencoder first (on freshly rendered scenes),
/// then the text encoder and UNet together with the latent diffusion objective on cached latents (with the prediction
/// type and noise schedule of the template's scheduler config, or another for the first of two diffusion phases); the
/// result is written as a diffusers folder (weights stored as float16, EMA weights for the UNet and text encoder).
/// Every phase checkpoints into <c>workFolder</c> and resumes from there.
/// </summary>
/// <param name="templateFolder">A diffusers folder holding the configs and tokenizer of the model to train.</param>
public sealed class ShapesModelRecipe(string templateFolder, string outputFolder, string workFolder, ShapesTrainingSettings settings)
{
    private const string LatentCacheFile = "latent-pool.safetensors";
    private const string RefinePhase = "refine";

    public void Run(IProgress<TrainingProgress>? progress = null, Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        log ??= _ => { };
        Directory.CreateDirectory(workFolder);
        torch.random.manual_seed((long)settings.Seed);
        var data = new ShapesDataset(settings.Seed);

        using var vae = new AutoencoderKL(AutoencoderKLConfig.Load(Path.Combine(templateFolder, "vae")));
        TrainAutoencoder(vae, data, progress, log, cancellationToken);

        var (moments, captions) = LatentPool(vae, data, log);
        using var poolMoments = moments;
        var scalingFactor = ScalingFactor(poolMoments);
        log($"latent scaling factor {scalingFactor:G6}");

        using var textEncoder = new ClipTextModel(ConfigJson.Read<ClipTextConfig>(Path.Combine(templateFolder, "text_encoder", "config.json")));
        using var unet = new UNet2DConditionModel(UNet2DConditionConfig.Load(Path.Combine(templateFolder, "unet")));
        InitialiseTextEmbeddings(textEncoder);
        var tokenizer = ClipTokenizer.FromPretrained(Path.Combine(templateFolder, "tokenizer"));
        var shippedSchedule = SchedulerConfig.Read(Path.Combine(templateFolder, "scheduler", "scheduler_config.json"));
        var diffusionSchedule = shippedSchedule with
        {
            PredictionType = settings.DiffusionPredictionType ?? shippedSchedule.PredictionType,
            RescaleBetasZeroSnr = settings.DiffusionZeroTerminalSnr ?? shippedSchedule.RescaleBetasZeroSnr,
        };
        var objective = new LatentDiffusionObjective(unet, textEncoder, tokenizer, SchedulerRegistry.FromConfig(diffusionSchedule), settings.UnconditionalRate);

        // A batch of the pool: posterior samples z ~ N(μ, σ²) of random scenes, scaled, with their captions; the step's
        // generator then draws the objective's timesteps and noise.
        (Tensor Latents, List<string> Captions, Generator Generator) Batch(string phase, int step)
        {
            var generator = StepGenerator(phase, step);
            var picks = torch.randint(0, poolMoments.shape[0], [settings.DiffusionBatch], dtype: int64, generator: generator);
            var chosen = poolMoments.index_select(0, picks); // (B, 2C, h, w): mean and log-variance
            var halves = chosen.chunk(2, 1);
            var logVar = halves[1].clamp(-30, 20);
            var latents = (halves[0] + (0.5 * logVar).exp() * torch.randn(halves[0].shape, generator: generator)) * scalingFactor;
            return (latents, picks.data<long>().ToArray().Select(i => captions[(int)i]).ToList(), generator);
        }

        if (settings.StartFrom is null)
            TrainDiffusion(textEncoder, unet, objective, Batch, progress, log, cancellationToken);
        else
            LoadEmaWeights(textEncoder, unet, settings.StartFrom, log);
        if (settings.TextEncoderFrom is not null)
        {
            LoadCheckpoint(textEncoder, Path.Combine(settings.TextEncoderFrom, "text_encoder.ema.safetensors"));
            log($"text encoder from {settings.TextEncoderFrom}");
        }

        if (settings.RefineSteps > 0)
        {
            var refineObjective = new LatentDiffusionObjective(unet, textEncoder, tokenizer, SchedulerRegistry.FromConfig(shippedSchedule), settings.UnconditionalRate,
                settings.RefineEmphasis > 0 ? new TimestepEmphasis(settings.RefineEmphasis, settings.RefineEmphasisFrom, settings.RefineEmphasisTo) : null,
                settings.RefineHighNoiseWeightCap > 0 ? new HighNoiseWeighting(settings.RefineHighNoiseWeightCap) : null);
            using var refine = new TrainingLoop(RefinePhase, [new("text_encoder", textEncoder, settings.TextEncoderLearningRateScale), new("unet", unet)],
                new OptimizerSettings { LearningRate = settings.RefineLearningRate, WarmupSteps = 100 }, settings.RefineSteps, workFolder, settings.EmaDecay)
            {
                CheckpointEvery = settings.CheckpointEvery,
            };
            if (refine.TryResume())
                log($"{RefinePhase}: resumed at step {refine.Step}");
            refine.Run(step =>
            {
                var (latents, batchCaptions, generator) = Batch(RefinePhase, step);
                return refineObjective.Loss(latents, batchCaptions, generator);
            }, progress, cancellationToken);
            refine.EmaOf("text_encoder")!.CopyTo(textEncoder);
            refine.EmaOf("unet")!.CopyTo(unet);
        }
        Export(textEncoder, unet, vae, scalingFactor);
        log($"wrote {outputFolder}");
    }

    /// <summary>
    /// Writes the model folder from the latest checkpoints of a run that has not finished (EMA weights of the
    /// refine phase when it has begun, else of the diffusion phase), so that a long run can be inspected or shipped
    /// part-way; returns the step exported.
    /// </summary>
    public int ExportLatestCheckpoint(Action<string>? log = null)
    {
        log ??= _ => { };
        var data = new ShapesDataset(settings.Seed);
        using var vae = new AutoencoderKL(AutoencoderKLConfig.Load(Path.Combine(templateFolder, "vae")));
        LoadCheckpoint(vae, Path.Combine(workFolder, "vae", "vae.safetensors"));
        vae.eval();
        var (moments, _) = LatentPool(vae, data, log);
        using var poolMoments = moments;
        var scalingFactor = ScalingFactor(poolMoments);
        using var textEncoder = new ClipTextModel(ConfigJson.Read<ClipTextConfig>(Path.Combine(templateFolder, "text_encoder", "config.json")));
        using var unet = new UNet2DConditionModel(UNet2DConditionConfig.Load(Path.Combine(templateFolder, "unet")));
        var phase = File.Exists(Path.Combine(workFolder, RefinePhase, "state.json")) ? RefinePhase : "diffusion";
        LoadCheckpoint(textEncoder, Path.Combine(workFolder, phase, "text_encoder.ema.safetensors"));
        LoadCheckpoint(unet, Path.Combine(workFolder, phase, "unet.ema.safetensors"));
        using var state = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(workFolder, phase, "state.json")));
        var step = state.RootElement.GetProperty("step").GetInt32();
        Export(textEncoder, unet, vae, scalingFactor);
        log($"wrote {outputFolder} from {phase} step {step}");
        return step;
    }

    private void TrainDiffusion(ClipTextModel textEncoder, UNet2DConditionModel unet, LatentDiffusionObjective objective,
        Func<string, int, (Tensor Latents, List<string> Captions, Generator Generator)> batch, IProgress<TrainingProgress>? progress,
        Action<string> log, CancellationToken cancellationToken)
    {
        using var loop = new TrainingLoop("diffusion", [new("text_encoder", textEncoder, settings.TextEncoderLearningRateScale), new("unet", unet)],
            new OptimizerSettings { LearningRate = settings.DiffusionLearningRate, WarmupSteps = 300 }, settings.DiffusionSteps, workFolder, settings.EmaDecay)
        {
            CheckpointEvery = settings.CheckpointEvery,
            StopAfter = settings.DiffusionStopAfter,
        };
        if (loop.TryResume())
            log($"diffusion: resumed at step {loop.Step}");
        loop.Run(step =>
        {
            var (latents, batchCaptions, generator) = batch("diffusion", step);
            return objective.Loss(latents, batchCaptions, generator);
        }, progress, cancellationToken);

        loop.EmaOf("text_encoder")!.CopyTo(textEncoder);
        loop.EmaOf("unet")!.CopyTo(unet);
    }

    private static void LoadEmaWeights(ClipTextModel textEncoder, UNet2DConditionModel unet, string phaseFolder, Action<string> log)
    {
        LoadCheckpoint(textEncoder, Path.Combine(phaseFolder, "text_encoder.ema.safetensors"));
        LoadCheckpoint(unet, Path.Combine(phaseFolder, "unet.ema.safetensors"));
        log($"text encoder and UNet from {phaseFolder}");
    }

    private static void LoadCheckpoint(nn.Module module, string path)
    {
        using var file = SafeTensorsFile.Open(path);
        WeightLoader.LoadInto(module, [file], Path.GetFileName(path));
    }

    private void TrainAutoencoder(AutoencoderKL vae, ShapesDataset data, IProgress<TrainingProgress>? progress, Action<string> log,
        CancellationToken cancellationToken)
    {
        var objective = new AutoencoderObjective(vae, settings.KlWeight);
        using var loop = new TrainingLoop("vae", [new("vae", vae)],
            new OptimizerSettings { LearningRate = settings.VaeLearningRate, WarmupSteps = 100 }, settings.VaeSteps, workFolder)
        {
            CheckpointEvery = settings.CheckpointEvery,
        };
        if (loop.TryResume())
            log($"vae: resumed at step {loop.Step}");
        loop.Run(step =>
        {
            var first = (ulong)step * (ulong)settings.VaeBatch;
            var indices = Enumerable.Range(0, settings.VaeBatch).Select(i => first + (ulong)i).ToList();
            return objective.Loss(data.Images(indices), StepGenerator("vae", step));
        }, progress, cancellationToken);
        vae.eval();
    }

    /// <summary>Posterior moments of the pool's scenes (cached on disk) and their captions.</summary>
    private (Tensor Moments, IReadOnlyList<string> Captions) LatentPool(AutoencoderKL vae, ShapesDataset data, Action<string> log)
    {
        // The pool is drawn from scene indices after those the autoencoder saw, so that both phases see fresh scenes.
        var offset = (ulong)settings.VaeSteps * (ulong)settings.VaeBatch;
        var indices = Enumerable.Range(0, settings.LatentPool).Select(i => offset + (ulong)i).ToList();
        var captions = data.Captions(indices);
        var cache = Path.Combine(workFolder, LatentCacheFile);
        if (File.Exists(cache))
        {
            using var file = SafeTensorsFile.Open(cache);
            var cached = file.Load("moments");
            if (cached.shape[0] == settings.LatentPool)
            {
                log("latent pool: loaded from cache");
                return (cached, captions);
            }
            cached.Dispose();
        }
        log($"latent pool: encoding {settings.LatentPool} scenes");
        var parts = new List<Tensor>();
        using (torch.inference_mode())
        {
            for (var start = 0; start < indices.Count; start += 256)
            {
                using var scope = torch.NewDisposeScope();
                var chunk = indices.Skip(start).Take(256).ToList();
                using var posterior = vae.Encode(data.Images(chunk));
                parts.Add(posterior.Moments.clone().DetachFromDisposeScope());
            }
        }
        var moments = torch.cat(parts, 0);
        foreach (var part in parts)
            part.Dispose();
        SafeTensorsWriter.Write(cache, [new("moments", moments)]);
        return (moments, captions);
    }

    /// <summary>1 / std of posterior samples, so that the diffusion model sees unit-variance latents (as SD's 0.18215).</summary>
    private double ScalingFactor(Tensor moments)
    {
        using var scope = torch.NewDisposeScope();
        var sample = moments.narrow(0, 0, Math.Min(4096, moments.shape[0]));
        var halves = sample.chunk(2, 1);
        var generator = StepGenerator("scaling", 0);
        var z = halves[0] + (0.5 * halves[1].clamp(-30, 20)).exp() * torch.randn(halves[0].shape, generator: generator);
        return 1.0 / z.std().item<float>();
    }

    /// <summary>CLIP's initialisation of token and position embeddings: N(0, 0.02²) rather than N(0, 1).</summary>
    private static void InitialiseTextEmbeddings(ClipTextModel textEncoder)
    {
        using var noGrad = torch.no_grad();
        foreach (var (name, parameter) in textEncoder.named_parameters())
            if (name.EndsWith("embedding.weight", StringComparison.Ordinal))
                parameter.normal_(0, 0.02);
    }

    private Generator StepGenerator(string phase, int step)
    {
        var phaseSalt = phase.Aggregate(17UL, (h, c) => h * 31 + c);
        return new Generator((settings.Seed * 1_000_003UL) ^ (phaseSalt << 20) ^ (ulong)step, CPU);
    }

    private void Export(ClipTextModel textEncoder, UNet2DConditionModel unet, AutoencoderKL vae, double scalingFactor)
    {
        Directory.CreateDirectory(outputFolder);
        if (Path.GetFullPath(outputFolder) != Path.GetFullPath(templateFolder))
        {
            foreach (var file in Directory.EnumerateFiles(templateFolder, "*.json", SearchOption.AllDirectories)
                         .Concat(Directory.EnumerateFiles(Path.Combine(templateFolder, "tokenizer"))))
            {
                var target = Path.Combine(outputFolder, Path.GetRelativePath(templateFolder, file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target, overwrite: true);
            }
        }
        var vaeConfigPath = Path.Combine(outputFolder, "vae", "config.json");
        var vaeConfig = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(vaeConfigPath))!;
        vaeConfig["scaling_factor"] = Math.Round(scalingFactor, 5);
        File.WriteAllText(vaeConfigPath, vaeConfig.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");

        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["trained_by"] = "Easel ShapesModelRecipe", ["seed"] = settings.Seed.ToString() };
        SafeTensorsWriter.Write(Path.Combine(outputFolder, "text_encoder", "model.safetensors"), TrainingLoop.StateOf(textEncoder), ScalarType.Float16, metadata);
        SafeTensorsWriter.Write(Path.Combine(outputFolder, "unet", "diffusion_pytorch_model.safetensors"), TrainingLoop.StateOf(unet), ScalarType.Float16, metadata);
        SafeTensorsWriter.Write(Path.Combine(outputFolder, "vae", "diffusion_pytorch_model.safetensors"), TrainingLoop.StateOf(vae), ScalarType.Float16, metadata);
    }
}
