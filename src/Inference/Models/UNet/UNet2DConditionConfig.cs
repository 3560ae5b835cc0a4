using System.Text.Json;
using Easel.Inference.Loading;

namespace Easel.Inference.Models.UNet;

/// <summary>
/// unet/config.json of a diffusers UNet2DConditionModel (snake_case keys; defaults are diffusers').
/// <see cref="Validate"/> rejects the features this port does not build yet.
/// </summary>
public sealed record UNet2DConditionConfig
{
    public int? SampleSize { get; init; }
    public int InChannels { get; init; } = 4;
    public int OutChannels { get; init; } = 4;
    public bool CenterInputSample { get; init; }
    public bool FlipSinToCos { get; init; } = true;
    public double FreqShift { get; init; }
    public IReadOnlyList<string> DownBlockTypes { get; init; } = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"];
    public string? MidBlockType { get; init; } = "UNetMidBlock2DCrossAttn";
    public IReadOnlyList<string> UpBlockTypes { get; init; } = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"];
    /// <summary>A bool or one bool per down block.</summary>
    public JsonElement? OnlyCrossAttention { get; init; }
    public IReadOnlyList<int> BlockOutChannels { get; init; } = [320, 640, 1280, 1280];
    public IntOrList LayersPerBlock { get; init; } = 2;
    public int DownsamplePadding { get; init; } = 1;
    public double MidBlockScaleFactor { get; init; } = 1;
    public double Dropout { get; init; }
    public string ActFn { get; init; } = "silu";
    public int? NormNumGroups { get; init; } = 32;
    public double NormEps { get; init; } = 1e-5;
    public IntOrList CrossAttentionDim { get; init; } = 1280;
    public IntOrList TransformerLayersPerBlock { get; init; } = 1;
    public JsonElement? ReverseTransformerLayersPerBlock { get; init; }
    public int? EncoderHidDim { get; init; }
    public string? EncoderHidDimType { get; init; }
    /// <summary>In SD1/SD2 configs this is really the number of heads (a diffusers naming quirk).</summary>
    public IntOrList? AttentionHeadDim { get; init; } = 8;
    public IntOrList? NumAttentionHeads { get; init; }
    public bool DualCrossAttention { get; init; }
    public bool UseLinearProjection { get; init; }
    public string? ClassEmbedType { get; init; }
    public string? AdditionEmbedType { get; init; }
    public int? AdditionTimeEmbedDim { get; init; }
    public int? NumClassEmbeds { get; init; }
    public bool UpcastAttention { get; init; }
    public string ResnetTimeScaleShift { get; init; } = "default";
    public bool ResnetSkipTimeAct { get; init; }
    public double ResnetOutScaleFactor { get; init; } = 1.0;
    public string TimeEmbeddingType { get; init; } = "positional";
    public int? TimeEmbeddingDim { get; init; }
    public string? TimeEmbeddingActFn { get; init; }
    public string? TimestepPostAct { get; init; }
    public int? TimeCondProjDim { get; init; }
    public int ConvInKernel { get; init; } = 3;
    public int ConvOutKernel { get; init; } = 3;
    public int? ProjectionClassEmbeddingsInputDim { get; init; }
    public string AttentionType { get; init; } = "default";
    public bool ClassEmbeddingsConcat { get; init; }
    public bool? MidBlockOnlyCrossAttention { get; init; }
    public string? CrossAttentionNorm { get; init; }

    /// <summary>True for GLIGEN UNets (attention_type gated or gated-text-image): fusers and a position net.</summary>
    public bool IsGated => AttentionType is "gated" or "gated-text-image";

    public static UNet2DConditionConfig Load(string componentFolder) =>
        ConfigJson.Read<UNet2DConditionConfig>(Path.Combine(componentFolder, "config.json"));

    /// <summary>Heads per down block (num_attention_heads, or attention_head_dim when that is null).</summary>
    public IntOrList HeadsPerBlock =>
        NumAttentionHeads ?? AttentionHeadDim ?? throw new InvalidDataException("UNet config sets neither num_attention_heads nor attention_head_dim.");

    /// <summary>only_cross_attention for down block <paramref name="index"/>.</summary>
    public bool OnlyCrossAttentionFor(int index)
    {
        if (OnlyCrossAttention is not { } value)
            return false;
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False or JsonValueKind.Null => false,
            JsonValueKind.Array => value[index].GetBoolean(),
            _ => throw new InvalidDataException($"only_cross_attention must be a bool or a list of bools, not {value.ValueKind}."),
        };
    }

    /// <summary>Throws <see cref="NotSupportedException"/> naming every configured feature that is not built yet.</summary>
    public void Validate()
    {
        var unsupported = new List<string>();
        if (AdditionEmbedType is not null and not "text_time")
            unsupported.Add($"addition_embed_type '{AdditionEmbedType}'");
        if (AdditionEmbedType == "text_time" && (AdditionTimeEmbedDim is null || ProjectionClassEmbeddingsInputDim is null))
            throw new InvalidDataException("addition_embed_type 'text_time' needs addition_time_embed_dim and projection_class_embeddings_input_dim.");
        if (ClassEmbedType is not null || NumClassEmbeds is not null)
            unsupported.Add($"class embeddings (class_embed_type '{ClassEmbedType}', num_class_embeds {NumClassEmbeds})");
        if (EncoderHidDim is not null || EncoderHidDimType is not null)
            unsupported.Add($"encoder_hid_dim/encoder_hid_dim_type '{EncoderHidDimType}'");
        if (AttentionType is not ("default" or "gated" or "gated-text-image"))
            unsupported.Add($"attention_type '{AttentionType}'");
        if (TimeEmbeddingType != "positional")
            unsupported.Add($"time_embedding_type '{TimeEmbeddingType}'");
        if (TimeCondProjDim is not null)
            unsupported.Add("time_cond_proj_dim (LCM guidance embedding)");
        if (TimestepPostAct is not null)
            unsupported.Add($"timestep_post_act '{TimestepPostAct}'");
        if (TimeEmbeddingActFn is not null)
            unsupported.Add($"time_embedding_act_fn '{TimeEmbeddingActFn}'");
        if (DualCrossAttention)
            unsupported.Add("dual_cross_attention");
        if (CrossAttentionNorm is not null)
            unsupported.Add($"cross_attention_norm '{CrossAttentionNorm}'");
        if (ClassEmbeddingsConcat)
            unsupported.Add("class_embeddings_concat");
        if (ReverseTransformerLayersPerBlock is { ValueKind: not JsonValueKind.Null })
            unsupported.Add("reverse_transformer_layers_per_block");
        if (NormNumGroups is null)
            unsupported.Add("norm_num_groups null (no output GroupNorm)");
        if (MidBlockType is not (null or "UNetMidBlock2DCrossAttn"))
            unsupported.Add($"mid_block_type '{MidBlockType}'");
        foreach (var t in DownBlockTypes.Where(t => t is not ("CrossAttnDownBlock2D" or "DownBlock2D")))
            unsupported.Add($"down block type '{t}'");
        foreach (var t in UpBlockTypes.Where(t => t is not ("CrossAttnUpBlock2D" or "UpBlock2D")))
            unsupported.Add($"up block type '{t}'");
        if (unsupported.Count > 0)
            throw new NotSupportedException($"UNet2DConditionModel: this config needs features that are not implemented yet: {string.Join("; ", unsupported)}.");
        if (DownBlockTypes.Count != BlockOutChannels.Count || UpBlockTypes.Count != BlockOutChannels.Count)
            throw new InvalidDataException($"UNet config has {DownBlockTypes.Count} down blocks, {UpBlockTypes.Count} up blocks and {BlockOutChannels.Count} block_out_channels; they must agree.");
    }
}
