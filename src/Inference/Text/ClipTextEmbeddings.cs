using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Text;

/// <summary>transformers' <c>CLIPTextEmbeddings</c>: token embedding plus learned absolute position embedding.</summary>
public sealed class ClipTextEmbeddings : nn.Module<Tensor, Tensor>
{
    private readonly Embedding token_embedding;
    private readonly Embedding position_embedding;
    private readonly int _maxPositions;

    public ClipTextEmbeddings(ClipTextConfig config) : base(nameof(ClipTextEmbeddings))
    {
        token_embedding = nn.Embedding(config.VocabSize, config.HiddenSize);
        position_embedding = nn.Embedding(config.MaxPositionEmbeddings, config.HiddenSize);
        _maxPositions = config.MaxPositionEmbeddings;
        RegisterComponents();
    }

    /// <summary>The token table, e.g. to look up or extend textual-inversion embeddings.</summary>
    public Embedding TokenEmbedding => token_embedding;

    public override Tensor forward(Tensor inputIds)
    {
        using var scope = NewDisposeScope();
        var length = inputIds.shape[^1];
        if (length > _maxPositions)
            throw new ArgumentException($"Sequence length {length} exceeds max_position_embeddings {_maxPositions}.", nameof(inputIds));
        // Positions 0..length-1, as transformers' position_ids[:, :length] buffer.
        var positions = arange(length, dtype: ScalarType.Int64, device: inputIds.device).unsqueeze(0); // [1, seq]
        var embeddings = token_embedding.forward(inputIds) + position_embedding.forward(positions);   // [batch, seq, hidden]
        return embeddings.MoveToOuterDisposeScope();
    }
}
