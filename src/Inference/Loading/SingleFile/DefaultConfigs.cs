using System.Reflection;
using Easel.Inference.Models.UNet;
using Easel.Inference.Models.Vae;
using Easel.Inference.Text;

namespace Easel.Inference.Loading.SingleFile;

/// <summary>
/// The real component configs of each family (SD 1.5, SD 2.1 768-v, SDXL base 1.0), embedded as JSON, for single
/// files loaded without a base config folder. Inpainting variants take the base family's config with a 9-channel UNet input.
/// </summary>
public static class DefaultConfigs
{
    public static UNet2DConditionConfig UNet(ModelFamily family)
    {
        var config = Read<UNet2DConditionConfig>(family, "unet");
        return family.IsInpainting() ? config with { InChannels = 9 } : config;
    }

    public static AutoencoderKLConfig Vae(ModelFamily family) => Read<AutoencoderKLConfig>(family, "vae");

    public static ClipTextConfig TextEncoder(ModelFamily family) => Read<ClipTextConfig>(family, "text_encoder");

    public static ClipTextConfig TextEncoder2(ModelFamily family) => Read<ClipTextConfig>(family, "text_encoder_2");

    private static T Read<T>(ModelFamily family, string component)
    {
        var prefix = family switch
        {
            ModelFamily.StableDiffusion1 or ModelFamily.StableDiffusion1Inpainting => "sd1",
            ModelFamily.StableDiffusion2 or ModelFamily.StableDiffusion2Inpainting => "sd2",
            ModelFamily.StableDiffusionXL or ModelFamily.StableDiffusionXLInpainting => "sdxl",
            _ => throw new NotSupportedException($"There is no built-in {component} config for {family}; pass the diffusers folder of the same architecture as the base config."),
        };
        var name = $"Easel.Inference.Loading.SingleFile.Defaults.{prefix}.{component}.json";
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new NotSupportedException($"There is no built-in {component} config for {family}; pass the diffusers folder of the same architecture as the base config.");
        using var reader = new StreamReader(stream);
        return ConfigJson.Parse<T>(reader.ReadToEnd());
    }
}
