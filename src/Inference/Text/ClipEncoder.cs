using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Text;

/// <summary>transformers' <c>CLIPEncoder</c>: the stack of encoder layers.</summary>
public sealed class ClipEncoder : nn.Module<Tensor, Tensor, IReadOnlyList<Tensor>>
{
    private readonly ModuleList<ClipEncoderLayer> layers;

    public ClipEncoder(ClipTextConfig config) : base(nameof(ClipEncoder))
    {
        layers = new ModuleList<ClipEncoderLayer>();
        for (var i = 0; i < config.NumHiddenLayers; i++)
            layers.Add(new ClipEncoderLayer(config));
        RegisterComponents();
    }

    public int LayerCount => layers.Count;

    /// <summary>Runs every layer; returns the input followed by each layer's output (length layers + 1).</summary>
    /// <param name="embeddings">[batch, seq, hidden]</param>
    /// <param name="attentionBias">The additive causal mask.</param>
    public override IReadOnlyList<Tensor> forward(Tensor embeddings, Tensor attentionBias)
    {
        var states = new List<Tensor>(layers.Count + 1) { embeddings };
        var h = embeddings;
        foreach (var layer in layers)
        {
            h = layer.forward(h, attentionBias);
            states.Add(h);
        }
        return states;
    }
}
