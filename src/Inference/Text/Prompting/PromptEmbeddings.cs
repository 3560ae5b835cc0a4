using static TorchSharp.torch;

namespace Easel.Inference.Text.Prompting;

/// <summary>
/// An encoded prompt. Disposing the record disposes its tensors.
/// </summary>
/// <param name="Embeddings">[copies, 77·ChunkCount, D]: the chunks' hidden states side by side along the sequence axis
/// (for SDXL, both encoders' states concatenated along D).</param>
/// <param name="Pooled">[copies, P]: the pooled output of the first chunk (text_embeds of an encoder with a projection,
/// otherwise pooler_output; for SDXL, the second encoder's). Not weighted.</param>
/// <param name="ChunkCount">Number of 77-token chunks.</param>
public sealed record PromptEmbeddings(Tensor Embeddings, Tensor Pooled, int ChunkCount) : IDisposable
{
    public void Dispose()
    {
        Embeddings.Dispose();
        Pooled.Dispose();
    }
}
