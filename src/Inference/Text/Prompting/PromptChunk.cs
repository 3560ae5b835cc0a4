namespace Easel.Inference.Text.Prompting;

/// <summary>
/// One text-encoder input of a prompt: BOS, up to 75 prompt tokens, EOS, then pad tokens up to the model length
/// (77), with the emphasis weight of every position (1.0 for BOS, EOS and padding).
/// </summary>
/// <param name="TokenIds">Token ids, <c>ModelMaxLength</c> long.</param>
/// <param name="Weights">One weight per token id.</param>
/// <param name="TokenCount">How many prompt tokens the chunk holds (BOS, EOS and padding not counted).</param>
public sealed record PromptChunk(IReadOnlyList<long> TokenIds, IReadOnlyList<float> Weights, int TokenCount)
{
    /// <summary>True when every weight is exactly 1.0, so weighting would change nothing.</summary>
    public bool IsUnweighted => Weights.All(w => w == 1f);
}
