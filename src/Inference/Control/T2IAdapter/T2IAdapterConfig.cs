using System.Text.Json.Serialization;
using Easel.Inference.Loading;

namespace Easel.Inference.Control.T2IAdapter;

/// <summary>
/// config.json of a diffusers T2IAdapter (snake_case keys; defaults are diffusers'). <see cref="AdapterType"/> picks the
/// body: full_adapter (one feature per UNet down block), full_adapter_xl (SDXL's layout, the last feature for the mid
/// block) or light_adapter (Mou et al. 2023's light variant, one extra coarsest feature).
/// </summary>
public sealed record T2IAdapterConfig
{
    /// <summary>The adapter types diffusers knows.</summary>
    public static readonly IReadOnlyList<string> AdapterTypes = ["full_adapter", "full_adapter_xl", "light_adapter"];

    [JsonPropertyName("_class_name")]
    public string? ClassName { get; init; }
    public int InChannels { get; init; } = 3;
    public IReadOnlyList<int> Channels { get; init; } = [320, 640, 1280, 1280];
    public int NumResBlocks { get; init; } = 2;
    public int DownscaleFactor { get; init; } = 8;
    public string AdapterType { get; init; } = "full_adapter";

    public static T2IAdapterConfig Load(string folder)
    {
        var config = ConfigJson.Read<T2IAdapterConfig>(Path.Combine(folder, "config.json"));
        config.Validate();
        return config;
    }

    /// <summary>Throws <see cref="InvalidDataException"/> naming the first value diffusers would not build.</summary>
    public void Validate()
    {
        if (!AdapterTypes.Contains(AdapterType))
            throw new InvalidDataException(
                $"Unsupported adapter_type '{AdapterType}': a T2IAdapter config must name one of {string.Join(", ", AdapterTypes.Select(t => $"'{t}'"))}.");
        if (Channels.Count == 0 || Channels.Any(c => c <= 0))
            throw new InvalidDataException($"A T2IAdapter needs at least one positive channel count; got [{string.Join(", ", Channels)}].");
        if (InChannels <= 0 || NumResBlocks < 0 || DownscaleFactor <= 0)
            throw new InvalidDataException($"in_channels and downscale_factor must be positive and num_res_blocks ≥ 0; got {InChannels}, {DownscaleFactor}, {NumResBlocks}.");
    }

    /// <summary>
    /// How much smaller than the image the coarsest feature is: the pixel unshuffle times 2 per downsampling block
    /// (full: every block after the first; XL: only the third; light: every block after the first, plus its extra one).
    /// </summary>
    public int TotalDownscaleFactor => AdapterType switch
    {
        "full_adapter" => DownscaleFactor << (Channels.Count - 1),
        "full_adapter_xl" => DownscaleFactor * 2,
        _ => DownscaleFactor << Channels.Count,
    };
}
