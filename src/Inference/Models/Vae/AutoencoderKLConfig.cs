using Easel.Inference.Loading;

namespace Easel.Inference.Models.Vae;

/// <summary>vae/config.json of a diffusers AutoencoderKL (snake_case keys; defaults are diffusers').</summary>
public sealed record AutoencoderKLConfig
{
    public int InChannels { get; init; } = 3;
    public int OutChannels { get; init; } = 3;
    public IReadOnlyList<string> DownBlockTypes { get; init; } = ["DownEncoderBlock2D"];
    public IReadOnlyList<string> UpBlockTypes { get; init; } = ["UpDecoderBlock2D"];
    public IReadOnlyList<int> BlockOutChannels { get; init; } = [64];
    public int LayersPerBlock { get; init; } = 1;
    public string ActFn { get; init; } = "silu";
    public int LatentChannels { get; init; } = 4;
    public int NormNumGroups { get; init; } = 32;
    public int SampleSize { get; init; } = 32;
    /// <summary>Latents fed to the UNet are encoder samples × scaling_factor; decode divides by it.</summary>
    public double ScalingFactor { get; init; } = 0.18215;
    public IReadOnlyList<double>? LatentsMean { get; init; }
    public IReadOnlyList<double>? LatentsStd { get; init; }
    /// <summary>The VAE overflows in float16: run it in float32 whatever the pipeline's dtype.</summary>
    public bool ForceUpcast { get; init; } = true;
    public bool MidBlockAddAttention { get; init; } = true;
    public bool UseQuantConv { get; init; } = true;
    public bool UsePostQuantConv { get; init; } = true;

    public static AutoencoderKLConfig Load(string componentFolder) =>
        ConfigJson.Read<AutoencoderKLConfig>(Path.Combine(componentFolder, "config.json"));

    /// <summary>2^(number of down blocks − 1): pixels per latent along each side.</summary>
    public int ScaleFactor => 1 << (BlockOutChannels.Count - 1);

    public void Validate()
    {
        var unsupported = DownBlockTypes.Where(t => t != "DownEncoderBlock2D").Select(t => $"down block type '{t}'")
            .Concat(UpBlockTypes.Where(t => t != "UpDecoderBlock2D").Select(t => $"up block type '{t}'"))
            .ToList();
        if (unsupported.Count > 0)
            throw new NotSupportedException($"AutoencoderKL: this config needs features that are not implemented yet: {string.Join("; ", unsupported)}.");
        if (DownBlockTypes.Count != BlockOutChannels.Count || UpBlockTypes.Count != BlockOutChannels.Count)
            throw new InvalidDataException($"VAE config has {DownBlockTypes.Count} down blocks, {UpBlockTypes.Count} up blocks and {BlockOutChannels.Count} block_out_channels; they must agree.");
    }
}
