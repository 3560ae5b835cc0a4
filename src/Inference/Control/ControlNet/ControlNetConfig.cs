using System.Text.Json;
using System.Text.Json.Serialization;
using Easel.Inference.Loading;
using Easel.Inference.Models.UNet;

namespace Easel.Inference.Control.ControlNet;

/// <summary>
/// config.json of a diffusers ControlNetModel (snake_case keys; defaults are diffusers'). The encoder half mirrors
/// UNet2DConditionConfig; the ControlNet-only keys are the conditioning embedding's channels, global pooling of the
/// residuals (shuffle-style ControlNets) and the channel order its control images were trained with.
/// </summary>
public sealed record ControlNetConfig
{
    [JsonPropertyName("_class_name")]
    public string? ClassName { get; init; }
    public int InChannels { get; init; } = 4;
    public int ConditioningChannels { get; init; } = 3;
    public bool FlipSinToCos { get; init; } = true;
    public double FreqShift { get; init; }
    public IReadOnlyList<string> DownBlockTypes { get; init; } = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"];
    public string? MidBlockType { get; init; } = "UNetMidBlock2DCrossAttn";
    public JsonElement? OnlyCrossAttention { get; init; }
    public IReadOnlyList<int> BlockOutChannels { get; init; } = [320, 640, 1280, 1280];
    public IntOrList LayersPerBlock { get; init; } = 2;
    public int DownsamplePadding { get; init; } = 1;
    public double MidBlockScaleFactor { get; init; } = 1;
    public string ActFn { get; init; } = "silu";
    public int? NormNumGroups { get; init; } = 32;
    public double NormEps { get; init; } = 1e-5;
    public IntOrList CrossAttentionDim { get; init; } = 1280;
    public IntOrList TransformerLayersPerBlock { get; init; } = 1;
    public IntOrList? AttentionHeadDim { get; init; } = 8;
    public IntOrList? NumAttentionHeads { get; init; }
    public bool UseLinearProjection { get; init; }
    public string? ClassEmbedType { get; init; }
    public int? NumClassEmbeds { get; init; }
    public int? EncoderHidDim { get; init; }
    public string? EncoderHidDimType { get; init; }
    public string? AdditionEmbedType { get; init; }
    public int? AdditionTimeEmbedDim { get; init; }
    public int? ProjectionClassEmbeddingsInputDim { get; init; }
    public bool UpcastAttention { get; init; }
    public string ResnetTimeScaleShift { get; init; } = "default";
    public string ControlnetConditioningChannelOrder { get; init; } = "rgb";
    public IReadOnlyList<int> ConditioningEmbeddingOutChannels { get; init; } = [16, 32, 96, 256];
    public bool GlobalPoolConditions { get; init; }

    public static ControlNetConfig Load(string folder) =>
        ConfigJson.Read<ControlNetConfig>(Path.Combine(folder, "config.json"));

    /// <summary>
    /// The UNet config whose contracting half this ControlNet copies (the up path is the default one and never built), so
    /// the down and mid blocks are made, and unsupported features refused, by the same code as the UNet's.
    /// </summary>
    public UNet2DConditionConfig EncoderConfig() => new()
    {
        InChannels = InChannels,
        FlipSinToCos = FlipSinToCos,
        FreqShift = FreqShift,
        DownBlockTypes = DownBlockTypes,
        MidBlockType = MidBlockType,
        UpBlockTypes = DownBlockTypes.Select(t => t == "DownBlock2D" ? "UpBlock2D" : "CrossAttnUpBlock2D").Reverse().ToList(),
        OnlyCrossAttention = OnlyCrossAttention,
        BlockOutChannels = BlockOutChannels,
        LayersPerBlock = LayersPerBlock,
        DownsamplePadding = DownsamplePadding,
        MidBlockScaleFactor = MidBlockScaleFactor,
        ActFn = ActFn,
        NormNumGroups = NormNumGroups,
        NormEps = NormEps,
        CrossAttentionDim = CrossAttentionDim,
        TransformerLayersPerBlock = TransformerLayersPerBlock,
        AttentionHeadDim = AttentionHeadDim,
        NumAttentionHeads = NumAttentionHeads,
        UseLinearProjection = UseLinearProjection,
        ClassEmbedType = ClassEmbedType,
        NumClassEmbeds = NumClassEmbeds,
        EncoderHidDim = EncoderHidDim,
        EncoderHidDimType = EncoderHidDimType,
        AdditionEmbedType = AdditionEmbedType,
        AdditionTimeEmbedDim = AdditionTimeEmbedDim,
        ProjectionClassEmbeddingsInputDim = ProjectionClassEmbeddingsInputDim,
        UpcastAttention = UpcastAttention,
        ResnetTimeScaleShift = ResnetTimeScaleShift,
    };

    /// <summary>Heads per down block (num_attention_heads, or attention_head_dim when that is null, as in the UNet).</summary>
    public IntOrList HeadsPerBlock =>
        NumAttentionHeads ?? AttentionHeadDim ?? throw new InvalidDataException("ControlNet config sets neither num_attention_heads nor attention_head_dim.");

    /// <summary>Control images are fed BGR when the config says so (a few converted checkpoints were trained that way).</summary>
    public bool WantsBgr => ControlnetConditioningChannelOrder switch
    {
        "rgb" => false,
        "bgr" => true,
        _ => throw new InvalidDataException($"controlnet_conditioning_channel_order must be 'rgb' or 'bgr', not '{ControlnetConditioningChannelOrder}'."),
    };
}
