using System.Text.Json;
using Easel.Inference.Models.UNet;

namespace Easel.Inference.Control.ControlNet;

/// <summary>
/// Tells whether a folder holds a diffusers ControlNet and whether it fits a base UNet: its residuals are added to the
/// UNet's skip connections and mid block, so the encoder layout (block channels, layers per block), the text-encoder
/// width (cross_attention_dim) and the added SDXL conditioning must be those of the UNet.
/// </summary>
public static class ControlNetCompatibility
{
    public const string ClassName = "ControlNetModel";

    /// <summary>True when <paramref name="folder"/>/config.json names <c>_class_name</c> ControlNetModel.</summary>
    public static bool IsControlNetFolder(string folder)
    {
        var path = Path.Combine(folder, "config.json");
        if (!File.Exists(path))
            return false;
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        return document.RootElement.ValueKind == JsonValueKind.Object
            && document.RootElement.TryGetProperty("_class_name", out var name)
            && name.ValueKind == JsonValueKind.String
            && name.GetString() == ClassName;
    }

    /// <summary>Every way <paramref name="controlNet"/> does not fit <paramref name="unet"/>; empty when it fits.</summary>
    public static IReadOnlyList<string> Mismatches(ControlNetConfig controlNet, UNet2DConditionConfig unet)
    {
        var mismatches = new List<string>();
        if (!controlNet.BlockOutChannels.SequenceEqual(unet.BlockOutChannels))
            mismatches.Add($"block_out_channels [{string.Join(", ", controlNet.BlockOutChannels)}] vs the UNet's [{string.Join(", ", unet.BlockOutChannels)}]");
        else
        {
            var blocks = unet.BlockOutChannels.Count;
            for (var i = 0; i < blocks; i++)
            {
                if (controlNet.LayersPerBlock.For(i, blocks) != unet.LayersPerBlock.For(i, blocks))
                    mismatches.Add($"layers_per_block of down block {i}: {controlNet.LayersPerBlock.For(i, blocks)} vs the UNet's {unet.LayersPerBlock.For(i, blocks)}");
                if (controlNet.CrossAttentionDim.For(i, blocks) != unet.CrossAttentionDim.For(i, blocks))
                    mismatches.Add($"cross_attention_dim of down block {i}: {controlNet.CrossAttentionDim.For(i, blocks)} vs the UNet's {unet.CrossAttentionDim.For(i, blocks)}");
            }
        }
        if (controlNet.AdditionEmbedType != unet.AdditionEmbedType)
            mismatches.Add($"addition_embed_type '{controlNet.AdditionEmbedType}' vs the UNet's '{unet.AdditionEmbedType}'");
        else if (controlNet.ProjectionClassEmbeddingsInputDim != unet.ProjectionClassEmbeddingsInputDim)
            mismatches.Add($"projection_class_embeddings_input_dim {controlNet.ProjectionClassEmbeddingsInputDim} vs the UNet's {unet.ProjectionClassEmbeddingsInputDim}");
        return mismatches;
    }

    /// <summary>Throws a message naming every mismatch when <paramref name="controlNet"/> does not fit <paramref name="unet"/>.</summary>
    public static void EnsureFits(ControlNetConfig controlNet, UNet2DConditionConfig unet)
    {
        var mismatches = Mismatches(controlNet, unet);
        if (mismatches.Count > 0)
            throw new InvalidOperationException($"This ControlNet does not fit the base UNet: {string.Join("; ", mismatches)}.");
    }
}
