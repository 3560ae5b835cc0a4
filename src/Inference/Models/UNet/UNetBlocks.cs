using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Models.UNet;

/// <summary>Everything a UNet down/up block is built from, resolved per block by <see cref="UNet2DConditionModel"/>.</summary>
public sealed record UNetBlockOptions(
    int NumLayers,
    int TransformerLayers,
    long InChannels,
    long OutChannels,
    long PrevOutputChannels,
    long TembChannels,
    bool AddResample,
    double ResnetEps,
    string Activation,
    int Groups,
    long CrossAttentionDim,
    int Heads,
    int DownsamplePadding,
    bool UseLinearProjection,
    bool OnlyCrossAttention,
    bool UpcastAttention,
    string TimeScaleShift,
    bool SkipTimeAct,
    bool Gated = false)
{
    internal ResnetBlock2D Resnet(long inChannels, long outChannels, double outputScaleFactor = 1.0) =>
        new(new ResnetBlock2DOptions(inChannels, outChannels, TembChannels, Groups, ResnetEps, Activation,
            outputScaleFactor, TimeScaleShift, SkipTimeAct));

    internal Transformer2DModel Transformer(long channels) =>
        new(new Transformer2DOptions(Heads, channels / Heads, channels, TransformerLayers, CrossAttentionDim, Groups,
            UseLinearProjection, OnlyCrossAttention, UpcastAttention, Gated));
}

/// <summary>Input of a UNet down block.</summary>
/// <param name="Hidden">(B, Cin, H, W)</param>
/// <param name="Temb">(B, T) time embedding.</param>
/// <param name="EncoderHiddenStates">(B, M, D) text states; ignored by blocks without attention.</param>
/// <param name="AdditionalResidual">T2I-Adapter feature added after the last resnet/attention pair (cross-attention blocks only).</param>
/// <param name="Context">The UNet call's attention context, handed to every attention call.</param>
public sealed record DownBlockInput(Tensor Hidden, Tensor Temb, Tensor? EncoderHiddenStates, Tensor? AdditionalResidual = null, AttentionContext? Context = null);

/// <summary>Output of a UNet down block: the hidden states and the skip connections it contributes, in order.</summary>
public sealed record DownBlockOutput(Tensor Hidden, IReadOnlyList<Tensor> ResSamples);

/// <summary>Input of a UNet up block.</summary>
/// <param name="ResHiddenStates">This block's skip connections in down-path order (consumed from the end).</param>
/// <param name="UpsampleSize">Explicit output size of the upsampler, or null for 2×.</param>
/// <param name="Context">The UNet call's attention context, handed to every attention call.</param>
public sealed record UpBlockInput(Tensor Hidden, Tensor Temb, IReadOnlyList<Tensor> ResHiddenStates, Tensor? EncoderHiddenStates, long[]? UpsampleSize,
    AttentionContext? Context = null);

/// <summary>A block of the UNet's contracting path.</summary>
public abstract class UNetDownBlock(string name) : nn.Module<DownBlockInput, DownBlockOutput>(name)
{
    public abstract bool HasCrossAttention { get; }

    protected static DownBlockOutput Detach(Tensor hidden, List<Tensor> resSamples)
    {
        foreach (var r in resSamples)
            r.MoveToOuterDisposeScope();
        return new DownBlockOutput(hidden.MoveToOuterDisposeScope(), resSamples);
    }
}

/// <summary>A block of the UNet's expanding path.</summary>
public abstract class UNetUpBlock(string name) : nn.Module<UpBlockInput, Tensor>(name)
{
    public abstract bool HasCrossAttention { get; }

    /// <summary>How many skip connections the block consumes (one per resnet).</summary>
    public abstract int NumResnets { get; }
}
