using System.Text.Json;

namespace Easel.Core.Models;

/// <summary>
/// The parts of a UNet encoder a control model must share with the base UNet it is added to: a ControlNet's residuals
/// go to the UNet's skip connections and mid block, so the block channels, the layers per block, the text-encoder width
/// (cross_attention_dim) and the SDXL added conditioning must be the UNet's. Read from a unet/config.json or a
/// ControlNet's config.json (the same keys), as lists with one value per down block. <see cref="AttentionType"/> tells a
/// GLIGEN UNet, which takes grounding. <see cref="FirstDownBlockPlain"/> (a first down block without attention, as SDXL's)
/// tells where a T2I-Adapter's first feature lands: after that block's downsampler, so at half the latent size.
/// </summary>
public sealed record UNetLayout(
    IReadOnlyList<int> BlockOutChannels,
    IReadOnlyList<int> LayersPerBlock,
    IReadOnlyList<int> CrossAttentionDim,
    string? AdditionEmbedType = null,
    int? ProjectionClassEmbeddingsInputDim = null,
    string AttentionType = "default",
    bool? FirstDownBlockPlain = null)
{
    /// <summary>Whether the UNet has GLIGEN's gated self-attention (attention_type gated or gated-text-image).</summary>
    public bool Grounded => AttentionType is "gated" or "gated-text-image";

    /// <summary>The layout of a UNet or ControlNet config, with diffusers' defaults for omitted keys.</summary>
    public static UNetLayout Read(JsonElement config)
    {
        var channels = Ints(config, "block_out_channels") ?? [320, 640, 1280, 1280];
        var blocks = channels.Count;
        return new UNetLayout(
            channels,
            PerBlock(Ints(config, "layers_per_block") ?? [2], blocks),
            PerBlock(Ints(config, "cross_attention_dim") ?? [1280], blocks),
            config.TryGetProperty("addition_embed_type", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString() : null,
            config.TryGetProperty("projection_class_embeddings_input_dim", out var p) && p.ValueKind == JsonValueKind.Number ? p.GetInt32() : null,
            config.TryGetProperty("attention_type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "default",
            config.TryGetProperty("down_block_types", out var d) && d.ValueKind == JsonValueKind.Array && d.GetArrayLength() > 0
                ? d[0].GetString() == "DownBlock2D"
                : false);
    }

    /// <summary>Every way a control model of this layout does not fit a UNet of <paramref name="unet"/>'s; empty when it fits.</summary>
    public IReadOnlyList<string> Mismatches(UNetLayout unet)
    {
        var mismatches = new List<string>();
        if (!BlockOutChannels.SequenceEqual(unet.BlockOutChannels))
            mismatches.Add($"block_out_channels [{string.Join(", ", BlockOutChannels)}] vs the UNet's [{string.Join(", ", unet.BlockOutChannels)}]");
        else
        {
            for (var i = 0; i < BlockOutChannels.Count; i++)
            {
                var (layers, unetLayers) = (LayersPerBlock.ElementAtOrDefault(i), unet.LayersPerBlock.ElementAtOrDefault(i));
                if (layers != unetLayers)
                    mismatches.Add($"layers_per_block of down block {i}: {layers} vs the UNet's {unetLayers}");
                var (width, unetWidth) = (CrossAttentionDim.ElementAtOrDefault(i), unet.CrossAttentionDim.ElementAtOrDefault(i));
                if (width != unetWidth)
                    mismatches.Add($"cross_attention_dim of down block {i}: {width} vs the UNet's {unetWidth}");
            }
        }
        if (AdditionEmbedType != unet.AdditionEmbedType)
            mismatches.Add($"addition_embed_type '{AdditionEmbedType}' vs the UNet's '{unet.AdditionEmbedType}'");
        else if (ProjectionClassEmbeddingsInputDim != unet.ProjectionClassEmbeddingsInputDim)
            mismatches.Add($"projection_class_embeddings_input_dim {ProjectionClassEmbeddingsInputDim} vs the UNet's {unet.ProjectionClassEmbeddingsInputDim}");
        return mismatches;
    }

    /// <summary>The layout as the worker_models row stores it.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Jobs.JobJson.Options);

    public static UNetLayout? FromJson(string? json) => json is null ? null : JsonSerializer.Deserialize<UNetLayout>(json, Jobs.JobJson.Options);

    private static List<int>? Ints(JsonElement config, string key) =>
        !config.TryGetProperty(key, out var value) ? null : value.ValueKind switch
        {
            JsonValueKind.Number => [value.GetInt32()],
            JsonValueKind.Array => value.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.Number).Select(e => e.GetInt32()).ToList(),
            _ => null,
        };

    private static IReadOnlyList<int> PerBlock(List<int> values, int blocks) =>
        values.Count == 1 ? Enumerable.Repeat(values[0], blocks).ToList() : values;
}
