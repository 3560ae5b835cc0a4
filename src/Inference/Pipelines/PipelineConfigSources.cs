using Easel.Inference.Loading.SingleFile;
using Easel.Inference.Models.UNet;
using Easel.Inference.Models.Vae;
using Easel.Inference.Loading;
using Easel.Inference.Schedulers;
using Easel.Inference.Text;

namespace Easel.Inference.Pipelines;

/// <summary>
/// Where a pipeline's component configs, tokenizers, scheduler config and model_index values come from: a diffusers
/// folder, or a family's built-in defaults for single files loaded without one. Weights come from elsewhere (the
/// folder or the single file), so one <see cref="StableDiffusionPipeline"/> build serves every combination.
/// </summary>
internal interface IPipelineConfigSource
{
    /// <summary>Names the source in error messages.</summary>
    string Name { get; }

    ModelIndex Index { get; }

    UNet2DConditionConfig UNet();

    AutoencoderKLConfig Vae();

    ClipTextConfig TextEncoder();

    ClipTextConfig TextEncoder2();

    /// <summary>The tokenizer of text_encoder; null when the source has none (an SDXL refiner).</summary>
    ClipTokenizer? Tokenizer();

    /// <summary>The tokenizer of text_encoder_2; null when the source has none (SD 1.x/2.x).</summary>
    ClipTokenizer? Tokenizer2();

    SchedulerConfig Scheduler();
}

/// <summary>The configs of a diffusers model folder: model_index.json, &lt;component&gt;/config.json, tokenizer/, scheduler/.</summary>
internal sealed class DiffusersFolderConfigSource(string folder) : IPipelineConfigSource
{
    public string Name => $"'{folder}'";

    public ModelIndex Index { get; } = ModelIndex.Read(folder);

    public UNet2DConditionConfig UNet() => UNet2DConditionConfig.Load(Part("unet"));

    public AutoencoderKLConfig Vae() => AutoencoderKLConfig.Load(Part("vae"));

    public ClipTextConfig TextEncoder() => ConfigJson.Read<ClipTextConfig>(Path.Combine(Part("text_encoder"), "config.json"));

    public ClipTextConfig TextEncoder2() => ConfigJson.Read<ClipTextConfig>(Path.Combine(Part("text_encoder_2"), "config.json"));

    public ClipTokenizer? Tokenizer() => Directory.Exists(Part("tokenizer")) ? ClipTokenizer.FromPretrained(Part("tokenizer")) : null;

    public ClipTokenizer? Tokenizer2() => Directory.Exists(Part("tokenizer_2")) ? ClipTokenizer.FromPretrained(Part("tokenizer_2")) : null;

    public SchedulerConfig Scheduler() => SchedulerConfig.Read(Path.Combine(Part("scheduler"), "scheduler_config.json"));

    private string Part(string component) => Path.Combine(folder, component);
}

/// <summary>What the family's real release ships besides weights (<see cref="DefaultConfigs"/>), for a single file loaded without a config folder.</summary>
internal sealed class BuiltInConfigSource : IPipelineConfigSource
{
    private readonly ModelFamily _family;

    /// <exception cref="NotSupportedException">Easel ships no configs for <paramref name="family"/> (the SDXL refiner).</exception>
    public BuiltInConfigSource(ModelFamily family)
    {
        if (!family.HasBuiltInConfigs())
            throw new NotSupportedException($"Easel has no built-in configs for {family} single files; pass the diffusers folder of the same architecture as the config folder.");
        _family = family;
        Index = DefaultConfigs.Index(family);
    }

    public string Name => $"the built-in {_family} configs";

    public ModelIndex Index { get; }

    public UNet2DConditionConfig UNet() => DefaultConfigs.UNet(_family);

    public AutoencoderKLConfig Vae() => DefaultConfigs.Vae(_family);

    public ClipTextConfig TextEncoder() => DefaultConfigs.TextEncoder(_family);

    public ClipTextConfig TextEncoder2() => DefaultConfigs.TextEncoder2(_family);

    public ClipTokenizer? Tokenizer() => _family.HasTextEncoder() ? DefaultConfigs.Tokenizer(_family) : null;

    public ClipTokenizer? Tokenizer2() => _family.HasTextEncoder2() ? DefaultConfigs.Tokenizer2(_family) : null;

    public SchedulerConfig Scheduler() => DefaultConfigs.Scheduler(_family);
}
