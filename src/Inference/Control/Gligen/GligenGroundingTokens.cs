using static TorchSharp.torch;

namespace Easel.Inference.Control.Gligen;

/// <summary>
/// The grounding tokens h_e of one UNet call (the position net's output, diffusers' cross_attention_kwargs["gligen"]
/// "objs"), carried to every gated fuser through <see cref="Models.AttentionContext"/>.
/// </summary>
/// <param name="Objects">(B, N, cross_attention_dim) grounding tokens, N = max entities (30).</param>
/// <param name="Beta">Scheduled sampling β: the fusers run for the first ⌊β·steps⌋ steps of a loop only.</param>
public sealed record GligenGroundingTokens(Tensor Objects, double Beta = 1.0)
{
    /// <summary>
    /// Whether the fusers run at <paramref name="stepIndex"/> of <paramref name="totalSteps"/> (paper §3.2, scheduled
    /// sampling: grounding early, the plain model refines later). Outside a loop (stepIndex −1) they always run.
    /// </summary>
    public bool ActiveAt(int stepIndex, int totalSteps) =>
        stepIndex < 0 || stepIndex < (int)(Beta * totalSteps);
}
