using static TorchSharp.torch;

namespace Easel.Inference.Models;

/// <summary>
/// One low-rank update ΔW = (α/r)·up·down of one layer (Hu et al. 2021, LoRA, eq. 3): <see cref="Down"/> is [r, in] for
/// a linear layer or [r, in, k, k] for a convolution (applied with the layer's stride and padding), <see cref="Up"/> is
/// [out, r] or [out, r, 1, 1]. The tensors are owned by whoever built the object (a loaded LoRA file or a trainer); a
/// trainer's are leaf parameters with requires_grad.
/// </summary>
public sealed class LoraLayerWeights(Tensor down, Tensor up, double alpha)
{
    public Tensor Down { get; } = down;
    public Tensor Up { get; } = up;
    public double Alpha { get; } = alpha;

    /// <summary>r, the inner dimension.</summary>
    public long Rank => Down.shape[0];

    /// <summary>α/r, the factor the paper puts in front of up·down so the learning rate need not change with r.</summary>
    public double Scale => Alpha / Rank;

    /// <summary>Whether the tensors are being trained (then layers convert them per call, so gradients reach them).</summary>
    public bool IsTrainable => Down.requires_grad || Up.requires_grad;
}
