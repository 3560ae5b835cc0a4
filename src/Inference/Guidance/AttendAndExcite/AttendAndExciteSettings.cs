namespace Easel.Inference.Guidance.AttendAndExcite;

/// <summary>
/// Attend-and-Excite (Chefer et al. 2023) for one request, every value decided (the service scales diffusers' 50-step
/// defaults to the request's steps before it builds this).
/// </summary>
/// <param name="TokenIndices">The subject tokens: positions in the encoded prompt, 1 = the first token after the start token.</param>
/// <param name="MaxIterToAlter">The latents are updated on steps 0 … MaxIterToAlter − 1.</param>
/// <param name="Thresholds">Refinement steps: at step i the update repeats while the loss is above 1 − threshold.</param>
/// <param name="ScaleFactor">The step size α_i = ScaleFactor · sqrt(linspace(1, 0.5, steps)[i]).</param>
/// <param name="AttentionResolution">The cross-attention maps used, (height, width) in latent cells; null = the model's
/// resolution nearest 16×16 (diffusers' choice for a 64×64 latent).</param>
/// <param name="MaxRefinementSteps">At most this many updates per refinement step.</param>
/// <param name="ProbeEveryStep">True (diffusers' call pattern): the grad-enabled conditional UNet call runs on every step, also
/// after MaxIterToAlter where its maps change nothing; false skips it there.</param>
public sealed record AttendAndExciteSettings(
    IReadOnlyList<int> TokenIndices,
    int MaxIterToAlter,
    IReadOnlyDictionary<int, double> Thresholds,
    double ScaleFactor = AttendAndExciteSettings.DefaultScaleFactor,
    (int Height, int Width)? AttentionResolution = null,
    int MaxRefinementSteps = AttendAndExciteSettings.DefaultMaxRefinementSteps,
    bool ProbeEveryStep = true)
{
    public const double DefaultScaleFactor = 20;

    public const int DefaultMaxRefinementSteps = 20;

    /// <summary>The resolution the default picks the nearest of (in log area; ties go to the finer one).</summary>
    public const int PreferredResolution = 16;
}
