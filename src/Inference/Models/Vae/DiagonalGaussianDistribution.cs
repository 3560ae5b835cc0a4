using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Models.Vae;

/// <summary>
/// The VAE posterior: moments (B, 2·C, h, w) split into mean and log-variance, the latter clamped to
/// [-30, 20] as diffusers does. Takes ownership of the moments and owns every tensor it exposes (they
/// are detached from dispose scopes); dispose it when done.
/// </summary>
public sealed class DiagonalGaussianDistribution : IDisposable
{
    public DiagonalGaussianDistribution(Tensor moments)
    {
        using var scope = torch.NewDisposeScope();
        Moments = moments.DetachFromDisposeScope(); // (B, 2·C, h, w)
        var parts = moments.chunk(2, 1);
        Mean = parts[0].DetachFromDisposeScope(); // (B, C, h, w)
        LogVar = parts[1].clamp(-30.0, 20.0).DetachFromDisposeScope(); // (B, C, h, w)
        Std = torch.exp(0.5 * LogVar).DetachFromDisposeScope(); // (B, C, h, w)
        Var = torch.exp(LogVar).DetachFromDisposeScope(); // (B, C, h, w)
    }

    public Tensor Moments { get; }
    public Tensor Mean { get; }
    public Tensor LogVar { get; }
    public Tensor Std { get; }
    public Tensor Var { get; }

    /// <summary>mean + std·ε with ε ~ N(0, I) drawn from <paramref name="generator"/> (CPU float32, like diffusers' randn_tensor).</summary>
    public Tensor Sample(Generator? generator = null)
    {
        using var scope = torch.NewDisposeScope();
        var noise = torch.randn(Mean.shape, dtype: Mean.dtype, device: generator is null ? Mean.device : CPU, generator: generator).to(Mean.device);
        return Sample(noise).MoveToOuterDisposeScope();
    }

    /// <summary>mean + std·<paramref name="noise"/>, for noise drawn elsewhere (e.g. a recorded rng tape).</summary>
    public Tensor Sample(Tensor noise) => Mean + Std * noise;

    /// <summary>The distribution's mode, i.e. its mean.</summary>
    public Tensor Mode() => Mean.alias();

    public void Dispose()
    {
        Moments.Dispose();
        Mean.Dispose();
        LogVar.Dispose();
        Std.Dispose();
        Var.Dispose();
    }
}
