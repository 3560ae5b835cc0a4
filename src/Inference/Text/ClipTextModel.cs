using Easel.Inference.Loading;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Text;

/// <summary>
/// transformers' <c>CLIPTextModel</c>: the text encoder of SD 1.x/2.x and SDXL's first encoder. Parameter names
/// equal the checkpoint keys (<c>text_model.encoder.layers.0.self_attn.q_proj.weight</c>, …). The forward pass
/// does not disable gradients (textual inversion trains through it); wrap inference in <c>torch.no_grad()</c>.
/// </summary>
public sealed class ClipTextModel : nn.Module<Tensor, ClipTextOutput>
{
    private readonly ClipTextTransformer text_model;

    public ClipTextModel(ClipTextConfig config) : base(nameof(ClipTextModel))
    {
        Config = config;
        text_model = new ClipTextTransformer(config);
        RegisterComponents();
    }

    public ClipTextConfig Config { get; }

    /// <summary>The inner <c>text_model</c> (embeddings, final layer norm).</summary>
    public ClipTextTransformer TextModel => text_model;

    /// <param name="inputIds">[batch, seq] int64 token ids.</param>
    public override ClipTextOutput forward(Tensor inputIds) => text_model.forward(inputIds);

    /// <summary>The forward pass with one call's added token rows (see <see cref="ClipTextEmbeddings.forward(Tensor, Tensor?)"/>).</summary>
    /// <param name="addedTokenRows">[k, hidden]: the rows of ids vocab_size … vocab_size + k − 1, or null.</param>
    public ClipTextOutput forward(Tensor inputIds, Tensor? addedTokenRows) => text_model.forward(inputIds, addedTokenRows);

    /// <summary>
    /// Builds the model from <c>componentFolder/config.json</c>, loads its safetensors strictly, moves it to
    /// <paramref name="device"/>/<paramref name="dtype"/> and switches it to eval mode.
    /// </summary>
    public static ClipTextModel FromPretrained(string componentFolder, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        var config = ConfigJson.Read<ClipTextConfig>(Path.Combine(componentFolder, "config.json"));
        var model = new ClipTextModel(config);
        ClipWeights.Load(model, componentFolder, device, dtype);
        return model;
    }

    /// <summary>
    /// Builds the model from <paramref name="config"/>, loads <paramref name="weights"/> strictly (a diffusers folder or a
    /// converted single-file checkpoint), moves it to <paramref name="device"/>/<paramref name="dtype"/> and switches it to eval mode.
    /// </summary>
    public static ClipTextModel FromWeights(ClipTextConfig config, IWeightSource weights, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        var model = new ClipTextModel(config);
        ClipWeights.Load(model, weights, device, dtype);
        return model;
    }
}
