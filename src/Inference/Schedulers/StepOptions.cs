namespace Easel.Inference.Schedulers;

/// <summary>
/// Per-step keyword arguments of diffusers' step() (schedulers ignore the ones they do not use).
/// </summary>
public sealed record StepOptions
{
    public static readonly StepOptions Default = new();

    /// <summary>DDIM η: 0 is deterministic DDIM, 1 is DDPM-like ancestral sampling.</summary>
    public double Eta { get; init; }
    /// <summary>DDIM: recompute ε from the clipped x_0.</summary>
    public bool UseClippedModelOutput { get; init; }
    /// <summary>EulerDiscrete churn (Karras et al. 2022, Algorithm 2).</summary>
    public double SChurn { get; init; }
    public double STmin { get; init; }
    public double STmax { get; init; } = double.PositiveInfinity;
    public double SNoise { get; init; } = 1.0;
}
