namespace Easel.Inference.Editing.PromptToPrompt;

/// <summary>
/// What a Prompt-to-Prompt edit injects and for how long (Hertz et al. 2022). Step fractions count from the first step:
/// 0.8 injects during the first 80 % of the steps.
/// </summary>
/// <param name="CrossReplaceSteps">Fraction of the steps during which the edited prompt's cross-attention maps are the
/// source's (mapped); the paper's τ_c.</param>
/// <param name="CrossReplaceStepsPerWord">Words of the edited prompt with a fraction of their own (the paper's per-word τ).</param>
/// <param name="SelfReplaceSteps">Fraction of the steps during which the edited row's self-attention maps are the source's,
/// at the layers of at most <see cref="SelfReplaceMaxQueries"/> queries (the reference's 16×16 limit).</param>
/// <param name="Reweight">Words of the edited prompt whose cross-attention maps are scaled by a factor during the cross
/// injection (0 removes a word's effect, 2 doubles it).</param>
/// <param name="LocalBlend">Words (of either prompt) whose cross-attention maps, summed over the steps so far and
/// thresholded at <paramref name="LocalBlendThreshold"/> of their maximum, make the region the edit may change; outside it
/// the edited latents are the source's after every step.</param>
public sealed record PromptToPromptSettings(
    double CrossReplaceSteps = 0.8,
    IReadOnlyDictionary<string, double>? CrossReplaceStepsPerWord = null,
    double SelfReplaceSteps = 0.4,
    IReadOnlyDictionary<string, double>? Reweight = null,
    IReadOnlyList<string>? LocalBlend = null,
    double LocalBlendThreshold = 0.3)
{
    /// <summary>The reference replaces self-attention only where a map has at most 16 × 16 queries.</summary>
    public const int SelfReplaceMaxQueries = 16 * 16;
}
