using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Models;

/// <summary>
/// The default processor, numerically the same as diffusers' <c>AttnProcessor</c>:
/// baddbmm(QKᵀ·scale) → softmax → bmm, one (batch·head) slice per row.
/// </summary>
public class AttnProcessor : IAttentionProcessor
{
    public static readonly AttnProcessor Instance = new();

    public virtual Tensor Process(Attention attention, Tensor hiddenStates, Tensor? encoderHiddenStates, Tensor? attentionMask, AttentionContext? context)
    {
        using var scope = torch.NewDisposeScope();
        var residual = hiddenStates;
        var spatial = hiddenStates.dim() == 4;
        long batch = 0, channels = 0, height = 0, width = 0;
        var x = hiddenStates;
        if (spatial)
        {
            (batch, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
            x = x.view(batch, channels, height * width).transpose(1, 2); // (B, HW, C)
        }
        if (attention.GroupNormModule is { } groupNorm)
            x = groupNorm.call(x.transpose(1, 2)).transpose(1, 2); // (B, N, C)

        var query = attention.ToQ.call(x); // (B, N, inner)
        var keyValueSource = encoderHiddenStates ?? x; // (B, M, C')
        var key = attention.ToK.call(keyValueSource); // (B, M, inner)
        var value = attention.ToV.call(keyValueSource); // (B, M, inner)

        query = attention.HeadToBatchDim(query); // (B·h, N, d)
        key = attention.HeadToBatchDim(key); // (B·h, M, d)
        value = attention.HeadToBatchDim(value); // (B·h, M, d)

        var probs = attention.GetAttentionScores(query, key, attentionMask); // (B·h, N, M)
        probs = OnAttentionProbabilities(attention, probs, context);
        var output = torch.bmm(probs, value); // (B·h, N, d)
        output = attention.BatchToHeadDim(output); // (B, N, inner)
        output = attention.OutputProjection(output); // (B, N, C)

        if (spatial)
            output = output.transpose(-1, -2).reshape(batch, channels, height, width); // (B, C, H, W)
        if (attention.ResidualConnection)
            output = output + residual;
        if (attention.RescaleOutputFactor != 1.0)
            output = output / attention.RescaleOutputFactor;
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Hook for subclasses that observe or edit the attention probabilities (B·heads, N, M) before
    /// they weight the values; returns them unchanged by default.
    /// </summary>
    protected virtual Tensor OnAttentionProbabilities(Attention attention, Tensor probabilities, AttentionContext? context) => probabilities;
}
