using Easel.Inference.Loading;
using TorchSharp;
using Easel.Inference.Models;
using static TorchSharp.torch;

namespace Easel.Inference.Text;

/// <summary>
/// transformers' <c>CLIPTextModelWithProjection</c>: <see cref="ClipTextModel"/> plus a bias-free
/// <c>text_projection</c> of the pooled output (<see cref="ClipTextOutput.TextEmbeds"/>). SDXL's second text
/// encoder; its text_embeds are the pipeline's pooled prompt embeddings.
/// </summary>
public sealed class ClipTextModelWithProjection : nn.Module<Tensor, ClipTextOutput>
{
    private readonly ClipTextTransformer text_model;
    private readonly LoraLinear text_projection;

    public ClipTextModelWithProjection(ClipTextConfig config) : base(nameof(ClipTextModelWithProjection))
    {
        Config = config;
        text_model = new ClipTextTransformer(config);
        text_projection = Layers.Linear(config.HiddenSize, config.ProjectionDim, hasBias: false);
        RegisterComponents();
    }

    public ClipTextConfig Config { get; }

    public ClipTextTransformer TextModel => text_model;

    /// <param name="inputIds">[batch, seq] int64 token ids.</param>
    public override ClipTextOutput forward(Tensor inputIds) => forward(inputIds, null);

    /// <summary>The forward pass with one call's added token rows (see <see cref="ClipTextEmbeddings.forward(Tensor, Tensor?)"/>).</summary>
    /// <param name="addedTokenRows">[k, hidden]: the rows of ids vocab_size … vocab_size + k − 1, or null.</param>
    public ClipTextOutput forward(Tensor inputIds, Tensor? addedTokenRows)
    {
        var output = text_model.forward(inputIds, addedTokenRows);
        return output with { TextEmbeds = text_projection.forward(output.PoolerOutput) }; // [batch, projection_dim]
    }

    /// <summary>As <see cref="ClipTextModel.FromPretrained"/>, for a checkpoint that also holds text_projection.weight.</summary>
    public static ClipTextModelWithProjection FromPretrained(string componentFolder, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        var config = ConfigJson.Read<ClipTextConfig>(Path.Combine(componentFolder, "config.json"));
        var model = new ClipTextModelWithProjection(config);
        ClipWeights.Load(model, componentFolder, device, dtype);
        return model;
    }

    /// <summary>
    /// Builds the model from <paramref name="config"/>, loads <paramref name="weights"/> strictly (a diffusers folder or a
    /// converted single-file checkpoint), moves it to <paramref name="device"/>/<paramref name="dtype"/> and switches it to eval mode.
    /// </summary>
    public static ClipTextModelWithProjection FromWeights(ClipTextConfig config, IWeightSource weights, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        var model = new ClipTextModelWithProjection(config);
        ClipWeights.Load(model, weights, device, dtype);
        return model;
    }
}
