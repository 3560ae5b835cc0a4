namespace Easel.Inference.Text.Prompting;

/// <summary>Which hidden state of a CLIP text encoder becomes the prompt embedding.</summary>
/// <remarks>
/// A1111's "Clip skip" k counts from the end: 1 is the last layer, 2 the penultimate, and the final layer norm is
/// applied to the selected state. diffusers' <c>clip_skip</c> counts the skipped layers, so diffusers n = A1111 n + 1.
/// </remarks>
public sealed record ClipLayer
{
    private ClipLayer(int fromEnd, bool finalLayerNorm)
    {
        FromEnd = fromEnd;
        ApplyFinalLayerNorm = finalLayerNorm;
    }

    /// <summary>Position from the end of <see cref="ClipTextOutput.HiddenStates"/>: 1 = the last layer's output.</summary>
    public int FromEnd { get; }

    /// <summary>Whether the transformer's <c>final_layer_norm</c> is applied to the selected state.</summary>
    public bool ApplyFinalLayerNorm { get; }

    /// <summary><c>last_hidden_state</c>: the last layer after the final layer norm (SD 1.x, SD 2.x).</summary>
    public static ClipLayer Last { get; } = new(1, finalLayerNorm: true);

    /// <summary>The penultimate layer's output without the final layer norm (SDXL, both encoders).</summary>
    public static ClipLayer Penultimate { get; } = new(2, finalLayerNorm: false);

    /// <summary>A1111's clip skip: layer <paramref name="clipSkip"/> from the end, then the final layer norm; 1 = <see cref="Last"/>.</summary>
    public static ClipLayer ClipSkip(int clipSkip)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(clipSkip, 1);
        return clipSkip == 1 ? Last : new ClipLayer(clipSkip, finalLayerNorm: true);
    }

    public override string ToString() => this == Last ? "last_hidden_state"
        : ApplyFinalLayerNorm ? $"final_layer_norm(hidden_states[-{FromEnd}])" : $"hidden_states[-{FromEnd}]";
}
