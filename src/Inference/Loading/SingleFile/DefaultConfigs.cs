using System.Reflection;
using Easel.Inference.Models.UNet;
using Easel.Inference.Models.Vae;
using Easel.Inference.Pipelines;
using Easel.Inference.Schedulers;
using Easel.Inference.Text;

namespace Easel.Inference.Loading.SingleFile;

/// <summary>
/// What each family's real release (SD 1.5, SD 2.1 768-v, SDXL base 1.0) ships besides weights — component configs,
/// tokenizers, scheduler config, model_index.json values — embedded, for single files loaded without a config folder.
/// Inpainting variants share their base family's, with a 9-channel UNet input. The SDXL refiner has none
/// (<see cref="ModelFamilyExtensions.HasBuiltInConfigs"/>).
/// </summary>
public static class DefaultConfigs
{
    public static UNet2DConditionConfig UNet(ModelFamily family)
    {
        var config = ConfigJson.Parse<UNet2DConditionConfig>(ReadText(family, "unet"));
        return family.IsInpainting() ? config with { InChannels = 9 } : config;
    }

    public static AutoencoderKLConfig Vae(ModelFamily family) => ConfigJson.Parse<AutoencoderKLConfig>(ReadText(family, "vae"));

    public static ClipTextConfig TextEncoder(ModelFamily family) => ConfigJson.Parse<ClipTextConfig>(ReadText(family, "text_encoder"));

    public static ClipTextConfig TextEncoder2(ModelFamily family) => ConfigJson.Parse<ClipTextConfig>(ReadText(family, "text_encoder_2"));

    /// <summary>The tokenizer of text_encoder: the CLIP vocabulary, padding with "&lt;|endoftext|&gt;" (SD 1.x, SDXL) or "!" (SD 2.x).</summary>
    public static ClipTokenizer Tokenizer(ModelFamily family) =>
        ClipTokenizer.FromFiles(ClipVocabulary.WithConfig(ReadText(family, "tokenizer")), $"built-in {family} tokenizer");

    /// <summary>SDXL's tokenizer_2: the CLIP vocabulary, padding with "!".</summary>
    public static ClipTokenizer Tokenizer2(ModelFamily family) =>
        ClipTokenizer.FromFiles(ClipVocabulary.WithConfig(ReadText(family, "tokenizer_2")), $"built-in {family} tokenizer_2");

    /// <summary>The release's scheduler config: PNDM (SD 1.x), DDIM v-prediction (SD 2.x), Euler leading (SDXL).</summary>
    public static SchedulerConfig Scheduler(ModelFamily family) => SchedulerConfig.Parse(ReadText(family, "scheduler"));

    /// <summary>The release's model_index.json (SDXL: force_zeros_for_empty_prompt, requires_aesthetics_score).</summary>
    internal static ModelIndex Index(ModelFamily family) => ModelIndex.Parse(ReadText(family, "model_index"));

    private static string ReadText(ModelFamily family, string component)
    {
        var prefix = family switch
        {
            ModelFamily.StableDiffusion1 or ModelFamily.StableDiffusion1Inpainting => "sd1",
            ModelFamily.StableDiffusion2 or ModelFamily.StableDiffusion2Inpainting => "sd2",
            ModelFamily.StableDiffusionXL or ModelFamily.StableDiffusionXLInpainting => "sdxl",
            _ => null,
        };
        using var stream = prefix is null ? null : Assembly.GetExecutingAssembly().GetManifestResourceStream($"Easel.Inference.Loading.SingleFile.Defaults.{prefix}.{component}.json");
        if (stream is null)
            throw new NotSupportedException($"There is no built-in {component} for {family}; pass the diffusers folder of the same architecture as the config folder.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
