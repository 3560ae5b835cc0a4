using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Text.Prompting;

/// <summary>
/// One text encoder of a <see cref="PromptEncoder"/>: its tokenizer, the model, and the hidden state it contributes.
/// The branch does not own the model (disposing the prompt encoder leaves it alive).
/// </summary>
public sealed class TextEncoderBranch
{
    // The model's forward with one call's added token rows (ClipTextModel and ClipTextModelWithProjection both have one).
    private readonly Func<Tensor, Tensor?, ClipTextOutput> _forward;
    // [k, hidden] rows of the tokens this branch's tokenizer added for one request, or null.
    private readonly Tensor? _addedTokenRows;

    private TextEncoderBranch(ClipTokenizer tokenizer, nn.Module<Tensor, ClipTextOutput> model, Func<Tensor, Tensor?, ClipTextOutput> forward,
        LayerNorm finalLayerNorm, int layerCount, int hiddenSize, ClipLayer layer, Tensor? addedTokenRows = null)
    {
        if (layer.FromEnd > layerCount)
            throw new ArgumentOutOfRangeException(nameof(layer), layer.FromEnd, $"The text encoder has only {layerCount} layers.");
        Tokenizer = tokenizer;
        Model = model;
        _forward = forward;
        FinalLayerNorm = finalLayerNorm;
        LayerCount = layerCount;
        HiddenSize = hiddenSize;
        Layer = layer;
        _addedTokenRows = addedTokenRows;
    }

    public ClipTokenizer Tokenizer { get; }

    public nn.Module<Tensor, ClipTextOutput> Model { get; }

    public ClipLayer Layer { get; }

    /// <summary>The width of the model's token embeddings: what an added token's rows must have.</summary>
    public int HiddenSize { get; }

    internal LayerNorm FinalLayerNorm { get; }

    private int LayerCount { get; }

    /// <summary>A <c>CLIPTextModel</c> (SD 1.x/2.x, SDXL's first encoder).</summary>
    public static TextEncoderBranch Create(ClipTokenizer tokenizer, ClipTextModel model, ClipLayer? layer = null) =>
        new(tokenizer, model, model.forward, model.TextModel.FinalLayerNorm, model.Config.NumHiddenLayers, model.Config.HiddenSize, layer ?? ClipLayer.Last);

    /// <summary>A <c>CLIPTextModelWithProjection</c> (SDXL's second encoder); its text_embeds become the pooled output.</summary>
    public static TextEncoderBranch Create(ClipTokenizer tokenizer, ClipTextModelWithProjection model, ClipLayer? layer = null) =>
        new(tokenizer, model, model.forward, model.TextModel.FinalLayerNorm, model.Config.NumHiddenLayers, model.Config.HiddenSize, layer ?? ClipLayer.Last);

    /// <summary>
    /// This branch for one request that adds <paramref name="tokens"/>: a tokenizer that knows them
    /// (<see cref="ClipTokenizer.WithAddedTokens"/>) and their rows appended, for this branch's calls only, to the token
    /// table. The tokenizer and model this branch was made from are not changed.
    /// </summary>
    /// <exception cref="ArgumentException">A token's rows are not [n, <see cref="HiddenSize"/>], or the tokenizer refuses a token.</exception>
    public TextEncoderBranch WithAddedTokens(IReadOnlyList<AddedTokenEmbedding> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (_addedTokenRows is not null)
            throw new InvalidOperationException("This branch already has added tokens; add them all in one call on the base branch.");
        if (tokens.Count == 0)
            return this;
        foreach (var token in tokens)
        {
            if (token.Rows.dim() != 2 || token.Rows.shape[1] != HiddenSize)
                throw new ArgumentException(
                    $"Embedding '{token.Token}' has vectors of shape [{string.Join(", ", token.Rows.shape)}], but this text encoder's hidden size is " +
                    $"{HiddenSize}: it was trained for another base model.", nameof(tokens));
        }
        var tokenizer = Tokenizer.WithAddedTokens(tokens.Select(t => (t.Token, t.VectorCount)).ToList());
        var rows = torch.cat(tokens.Select(t => t.Rows).ToArray(), 0); // [Σn, hidden], in the tokenizer's id order
        return new TextEncoderBranch(tokenizer, Model, _forward, FinalLayerNorm, LayerCount, HiddenSize, Layer, rows);
    }

    /// <summary>
    /// Runs one chunk: ids [1, 77] → (hidden [1, 77, D] of <see cref="Layer"/>, pooled [1, P]). Call under no_grad in a
    /// dispose scope.
    /// </summary>
    internal (Tensor Hidden, Tensor Pooled) Run(Tensor inputIds)
    {
        var output = _forward(inputIds, _addedTokenRows);
        var hidden = Layer == ClipLayer.Last
            ? output.LastHiddenState
            : Layer.ApplyFinalLayerNorm
                ? FinalLayerNorm.forward(output.HiddenStates[^Layer.FromEnd])
                : output.HiddenStates[^Layer.FromEnd];
        return (hidden, output.TextEmbeds ?? output.PoolerOutput);
    }
}
