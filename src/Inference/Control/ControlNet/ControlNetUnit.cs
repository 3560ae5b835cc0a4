using Easel.Inference.Pipelines;

namespace Easel.Inference.Control.ControlNet;

/// <summary>One ControlNet of a request, with its control image and weights (A1111's "unit").</summary>
/// <param name="Model">The ControlNet; the caller keeps ownership.</param>
/// <param name="Image">The control map at the output size, read as [0, 1] RGB (not normalised, as diffusers).</param>
/// <param name="Scale">diffusers' controlnet_conditioning_scale: multiplies every residual.</param>
/// <param name="Start">Fraction of the steps before which the unit is off (control_guidance_start).</param>
/// <param name="End">Fraction of the steps after which the unit is off (control_guidance_end).</param>
/// <param name="GuessMode">diffusers' guess mode: log-spaced residual scales, conditional half only with guidance.</param>
/// <param name="Mode">A1111's control mode.</param>
public sealed record ControlNetUnit(
    ControlNetModel Model,
    InputImage Image,
    double Scale = 1.0,
    double Start = 0.0,
    double End = 1.0,
    bool GuessMode = false,
    ControlMode Mode = ControlMode.Balanced)
{
    /// <summary>
    /// Whether the unit runs at step <paramref name="index"/> of <paramref name="total"/>: diffusers' controlnet_keep,
    /// off when i/N &lt; start or (i+1)/N &gt; end.
    /// </summary>
    public bool IsActiveAt(int index, int total) =>
        !((double)index / total < Start || (double)(index + 1) / total > End);

    /// <summary>
    /// Whether the unconditional half of guidance gets no residuals: guess mode, a globally pooled ControlNet (diffusers
    /// turns guess mode on for those), or <see cref="ControlMode.ControlMoreImportant"/>.
    /// </summary>
    public bool ConditionalOnly => GuessMode || Model.Config.GlobalPoolConditions || Mode == ControlMode.ControlMoreImportant;

    /// <summary>The factor of residual <paramref name="k"/> of <paramref name="count"/> (mid block last) from the control mode.</summary>
    public double ModeFactor(int k, int count) =>
        Mode == ControlMode.Balanced ? 1.0 : Math.Pow(0.825, count - 1 - k);
}
