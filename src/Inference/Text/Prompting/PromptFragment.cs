namespace Easel.Inference.Text.Prompting;

/// <summary>
/// A run of prompt text with one emphasis weight, as <see cref="EmphasisParser"/> produces it; or, when
/// <see cref="IsBreak"/> is set, a <c>BREAK</c> marker that starts a new 75-token chunk.
/// </summary>
/// <param name="Text">The literal text (escapes resolved, brackets removed); "BREAK" for a break marker.</param>
/// <param name="Weight">Multiplier applied to the embeddings of this text's tokens (1.0 = unweighted).</param>
/// <param name="IsBreak">True for a <c>BREAK</c> marker; its weight is always 1.0 and it has no tokens.</param>
public readonly record struct PromptFragment(string Text, double Weight, bool IsBreak = false)
{
    /// <summary>The <c>BREAK</c> marker.</summary>
    public static PromptFragment Break { get; } = new("BREAK", 1.0, IsBreak: true);

    public override string ToString() => IsBreak ? "BREAK" : $"[{Text}, {Weight:R}]";
}
