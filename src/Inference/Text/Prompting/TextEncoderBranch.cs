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
    private TextEncoderBranch(ClipTokenizer tokenizer, nn.Module<Tensor, ClipTextOutput> model, LayerNorm finalLayerNorm,
        int layerCount, ClipLayer layer)
    {
        if (layer.FromEnd > layerCount)
            throw new ArgumentOutOfRangeException(nameof(layer), layer.FromEnd, $"The text encoder has only {layerCount} layers.");
        Tokenizer = tokenizer;
        Model = model;
        FinalLayerNorm = finalLayerNorm;
        Layer = layer;
    }

    public ClipTokenizer Tokenizer { get; }

    public nn.Module<Tensor, ClipTextOutput> Model { get; }

    public ClipLayer Layer { get; }

    internal LayerNorm FinalLayerNorm { get; }

    /// <summary>A <c>CLIPTextModel</c> (SD 1.x/2.x, SDXL's first encoder).</summary>
    public static TextEncoderBranch Create(ClipTokenizer tokenizer, ClipTextModel model, ClipLayer? layer = null) =>
        new(tokenizer, model, model.TextModel.FinalLayerNorm, model.Config.NumHiddenLayers, layer ?? ClipLayer.Last);

    /// <summary>A <c>CLIPTextModelWithProjection</c> (SDXL's second encoder); its text_embeds become the pooled output.</summary>
    public static TextEncoderBranch Create(ClipTokenizer tokenizer, ClipTextModelWithProjection model, ClipLayer? layer = null) =>
        new(tokenizer, model, model.TextModel.FinalLayerNorm, model.Config.NumHiddenLayers, layer ?? ClipLayer.Last);

    /// <summary>
    /// Runs one chunk: ids [1, 77] → (hidden [1, 77, D] of <see cref="Layer"/>, pooled [1, P]). Call under no_grad in a
    /// dispose scope.
    /// </summary>
    internal (Tensor Hidden, Tensor Pooled) Run(Tensor inputIds)
    {
        var output = Model.forward(inputIds);
        var hidden = Layer == ClipLayer.Last
            ? output.LastHiddenState
            : Layer.ApplyFinalLayerNorm
                ? FinalLayerNorm.forward(output.HiddenStates[^Layer.FromEnd])
                : output.HiddenStates[^Layer.FromEnd];
        return (hidden, output.TextEmbeds ?? output.PoolerOutput);
    }
}
