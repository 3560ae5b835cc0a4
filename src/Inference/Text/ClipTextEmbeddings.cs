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

    public override Tensor forward(Tensor inputIds) => forward(inputIds, null);

    /// <summary>
    /// The embeddings of ids that may go past the token table: id <c>vocab_size + k</c> takes row k of
    /// <paramref name="addedRows"/>, as if the table had been resized and those rows appended (transformers'
    /// <c>resize_token_embeddings</c> + assignment, what diffusers' <c>load_textual_inversion</c> does), but without
    /// changing the table, so the rows belong to one call. Gradients flow into <paramref name="addedRows"/>.
    /// </summary>
    /// <param name="inputIds">[batch, seq] int64.</param>
    /// <param name="addedRows">[k, hidden] rows of the ids from vocab_size on, or null for none.</param>
    public Tensor forward(Tensor inputIds, Tensor? addedRows)
    {
        using var scope = NewDisposeScope();
        var length = inputIds.shape[^1];
        if (length > _maxPositions)
            throw new ArgumentException($"Sequence length {length} exceeds max_position_embeddings {_maxPositions}.", nameof(inputIds));
        // Positions 0..length-1, as transformers' position_ids[:, :length] buffer.
        var positions = arange(length, dtype: ScalarType.Int64, device: inputIds.device).unsqueeze(0); // [1, seq]
        var tokens = addedRows is null ? token_embedding.forward(inputIds) : TokensWithAddedRows(inputIds, addedRows); // [batch, seq, hidden]
        var embeddings = tokens + position_embedding.forward(positions);   // [batch, seq, hidden]
        return embeddings.MoveToOuterDisposeScope();
    }

    // Two lookups and a select instead of concatenating the table (SD's is 49408 × 768) with the rows on every call.
    private Tensor TokensWithAddedRows(Tensor inputIds, Tensor addedRows)
    {
        var table = token_embedding.weight!;
        var vocabSize = table.shape[0];
        if (addedRows.dim() != 2 || addedRows.shape[1] != table.shape[1])
            throw new ArgumentException(
                $"Added token rows must be [k, {table.shape[1]}] (the token embedding's width); got [{string.Join(", ", addedRows.shape)}].", nameof(addedRows));
        var isAdded = inputIds.ge(vocabSize);                                                    // [batch, seq]
        if (isAdded.any().item<bool>() && inputIds.max().item<long>() >= vocabSize + addedRows.shape[0])
            throw new ArgumentException($"A token id is past the {vocabSize} table rows and the {addedRows.shape[0]} added rows.", nameof(inputIds));
        var baseRows = token_embedding.forward(inputIds.clamp_max(vocabSize - 1));               // [batch, seq, hidden]
        var extraIds = inputIds.sub(vocabSize).clamp_min(0).flatten();                            // [batch·seq]
        var extraRows = addedRows.to(table.dtype, table.device).index_select(0, extraIds).view(baseRows.shape); // [batch, seq, hidden]
        return where(isAdded.unsqueeze(-1), extraRows, baseRows);
    }
}
