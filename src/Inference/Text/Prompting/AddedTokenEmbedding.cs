using static TorchSharp.torch;

namespace Easel.Inference.Text.Prompting;

/// <summary>
/// A token that one request adds to one text encoder (a textual-inversion embedding): its text and its token-embedding
/// rows. A token of n rows is written once in a prompt and stands for n token positions (<c>token</c>, <c>token_1</c>, …).
/// The record does not own <see cref="Rows"/>.
/// </summary>
/// <param name="Rows">[n, hidden] on any device and dtype (moved to the encoder's when used); may require a gradient.</param>
public sealed record AddedTokenEmbedding(string Token, Tensor Rows)
{
    /// <summary>How many token positions the token takes.</summary>
    public int VectorCount => (int)Rows.shape[0];
}
