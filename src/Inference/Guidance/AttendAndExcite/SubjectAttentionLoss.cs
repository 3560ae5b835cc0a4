using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Guidance.AttendAndExcite;

/// <summary>
/// Attend-and-Excite's objective (Chefer et al. 2023, §3–4): from the aggregated cross-attention maps, each subject
/// token's map after dropping the start token and the last token, ×100 and a softmax over the remaining tokens, smoothed
/// by a 3×3 Gaussian (σ = 0.5, reflect padding); its maximum says how strongly some patch attends to the subject, and
/// L = max over subjects of (1 − that maximum), so the most neglected subject is excited.
/// </summary>
public static class SubjectAttentionLoss
{
    private const int KernelSize = 3;
    private const double Sigma = 0.5;

    /// <param name="aggregated">(h, w, T) maps averaged over layers and heads.</param>
    /// <param name="tokenIndices">Positions in the encoded prompt (1 = first token after the start token).</param>
    /// <returns>(K,) the smoothed maximum of each subject's map.</returns>
    public static Tensor MaxAttentionPerToken(Tensor aggregated, IReadOnlyList<int> tokenIndices)
    {
        using var scope = torch.NewDisposeScope();
        var tokens = aggregated.shape[2];
        var text = (aggregated[.., .., 1..(int)(tokens - 1)] * 100).softmax(-1); // (h, w, T − 2)
        using var kernel = GaussianKernel(text.dtype, text.device);
        var maxima = tokenIndices.Select(index =>
        {
            var map = text[.., .., index - 1].unsqueeze(0).unsqueeze(0); // (1, 1, h, w); indices shift with the start token gone
            var padded = nn.functional.pad(map, [1, 1, 1, 1], PaddingModes.Reflect);
            return nn.functional.conv2d(padded, kernel).max();
        }).ToArray();
        return torch.stack(maxima).MoveToOuterDisposeScope();
    }

    /// <summary>L = max_k max(0, 1 − maxima_k), a 0-d tensor.</summary>
    public static Tensor Loss(Tensor maxAttentionPerToken)
    {
        using var scope = torch.NewDisposeScope();
        return (1 - maxAttentionPerToken).clamp_min(0).max().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Diffusers' GaussianSmoothing kernel: the product over both axes of exp(−((x − μ)/(2σ))²) (its form, which squares
    /// (x − μ)/2σ rather than dividing by 2σ²), normalised to sum 1; (1, 1, 3, 3).
    /// </summary>
    private static Tensor GaussianKernel(ScalarType dtype, Device device)
    {
        using var scope = torch.NewDisposeScope();
        var mean = (KernelSize - 1) / 2.0;
        var x = torch.arange(KernelSize, dtype: float32);
        var g = 1 / (Sigma * Math.Sqrt(2 * Math.PI)) * torch.exp(-((x - mean) / (2 * Sigma)).pow(2)); // (3,)
        var kernel = g.unsqueeze(1) * g.unsqueeze(0);
        kernel = kernel / kernel.sum();
        return kernel.view(1, 1, KernelSize, KernelSize).to(dtype).to(device).MoveToOuterDisposeScope();
    }
}
