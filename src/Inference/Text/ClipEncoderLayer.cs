using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Text;

/// <summary>transformers' <c>CLIPEncoderLayer</c>: pre-norm self-attention and MLP, each with a residual.</summary>
public sealed class ClipEncoderLayer : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly ClipAttention self_attn;
    private readonly LayerNorm layer_norm1;
    private readonly ClipMlp mlp;
    private readonly LayerNorm layer_norm2;

    public ClipEncoderLayer(ClipTextConfig config) : base(nameof(ClipEncoderLayer))
    {
        self_attn = new ClipAttention(config);
        layer_norm1 = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        mlp = new ClipMlp(config);
        layer_norm2 = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        RegisterComponents();
    }

    /// <param name="hiddenStates">[batch, seq, hidden]</param>
    /// <param name="attentionBias">The additive causal mask.</param>
    public override Tensor forward(Tensor hiddenStates, Tensor attentionBias)
    {
        using var scope = NewDisposeScope();
        var h = hiddenStates + self_attn.forward(layer_norm1.forward(hiddenStates), attentionBias);
        h = h + mlp.forward(layer_norm2.forward(h));
        return h.MoveToOuterDisposeScope();
    }
}
