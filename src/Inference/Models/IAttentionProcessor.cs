using static TorchSharp.torch;

namespace Easel.Inference.Models;

/// <summary>
/// Computes one attention call for an <see cref="Attention"/> module. Swapping the processor lets
/// attention controllers (Prompt-to-Prompt, Attend-and-Excite, Structured Diffusion) read or edit
/// attention maps without forking the model. The processor uses the module's projections
/// (<see cref="Attention.ToQ"/> …) and helpers (<see cref="Attention.HeadToBatchDim"/>,
/// <see cref="Attention.GetAttentionScores"/>, <see cref="Attention.BatchToHeadDim"/>).
/// </summary>
public interface IAttentionProcessor
{
    /// <param name="attention">The module being run (its <see cref="Attention.Name"/> says where it sits).</param>
    /// <param name="hiddenStates">Queries' source: (B, N, C) or, for VAE-style attention, (B, C, H, W).</param>
    /// <param name="encoderHiddenStates">Keys'/values' source (B, M, C') for cross-attention; null for self-attention.</param>
    /// <param name="attentionMask">Optional additive bias broadcastable to (B·heads, N, M).</param>
    /// <param name="context">The UNet call's step and request inputs; null outside a UNet call (e.g. in the VAE).</param>
    /// <returns>A tensor shaped like <paramref name="hiddenStates"/>.</returns>
    Tensor Process(Attention attention, Tensor hiddenStates, Tensor? encoderHiddenStates, Tensor? attentionMask, AttentionContext? context);
}
