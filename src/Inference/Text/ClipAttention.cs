using TorchSharp;
using Easel.Inference.Models;
using static TorchSharp.torch;

namespace Easel.Inference.Text;

/// <summary>
/// transformers' eager <c>CLIPAttention</c>: multi-head self-attention where the query is scaled before QKᵀ and an
/// additive mask is applied before the softmax, the same operation order as the goldens.
/// </summary>
public sealed class ClipAttention : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly LoraLinear k_proj;
    private readonly LoraLinear v_proj;
    private readonly LoraLinear q_proj;
    private readonly LoraLinear out_proj;
    private readonly int _heads;
    private readonly int _headDim;
    private readonly double _scale;

    public ClipAttention(ClipTextConfig config) : base(nameof(ClipAttention))
    {
        if (config.HiddenSize % config.NumAttentionHeads != 0)
            throw new InvalidDataException($"hidden_size {config.HiddenSize} is not divisible by num_attention_heads {config.NumAttentionHeads}.");
        _heads = config.NumAttentionHeads;
        _headDim = config.HiddenSize / config.NumAttentionHeads;
        _scale = Math.Pow(_headDim, -0.5);
        k_proj = Layers.Linear(config.HiddenSize, config.HiddenSize);
        v_proj = Layers.Linear(config.HiddenSize, config.HiddenSize);
        q_proj = Layers.Linear(config.HiddenSize, config.HiddenSize);
        out_proj = Layers.Linear(config.HiddenSize, config.HiddenSize);
        RegisterComponents();
    }

    /// <param name="hiddenStates">[batch, seq, hidden]</param>
    /// <param name="attentionBias">Additive bias broadcastable to [batch, heads, seq, seq] (the causal mask).</param>
    public override Tensor forward(Tensor hiddenStates, Tensor attentionBias)
    {
        using var scope = NewDisposeScope();
        var batch = hiddenStates.shape[0];
        var length = hiddenStates.shape[1];
        var query = SplitHeads(q_proj.forward(hiddenStates) * _scale, batch, length); // [batch, heads, seq, head_dim]
        var key = SplitHeads(k_proj.forward(hiddenStates), batch, length);
        var value = SplitHeads(v_proj.forward(hiddenStates), batch, length);
        var scores = matmul(query, key.transpose(-1, -2)) + attentionBias;           // [batch, heads, seq, seq]
        var probabilities = scores.softmax(-1);
        var context = matmul(probabilities, value)                                    // [batch, heads, seq, head_dim]
            .transpose(1, 2)
            .reshape(batch, length, _heads * _headDim);                               // [batch, seq, hidden]
        return out_proj.forward(context).MoveToOuterDisposeScope();
    }

    private Tensor SplitHeads(Tensor x, long batch, long length) =>
        x.view(batch, length, _heads, _headDim).transpose(1, 2);
}
