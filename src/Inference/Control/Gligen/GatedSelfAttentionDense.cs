using Easel.Inference.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Control.Gligen;

/// <summary>
/// GLIGEN's gated self-attention layer (diffusers' GatedSelfAttentionDense, the transformer block's "fuser"):
/// v = v + tanh(γ)·TS(SelfAttn([v, h_e])) over the visual tokens v and projected grounding tokens h_e
/// (paper eq. 8, TS keeps the visual tokens), then v = v + tanh(γ_dense)·FF(v). Both gates start at 0, so a new
/// fuser leaves the frozen model unchanged.
/// </summary>
public sealed class GatedSelfAttentionDense : nn.Module<Tensor, Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly LoraLinear linear;
    private readonly Attention attn;
    private readonly FeedForward ff;
    private readonly LayerNorm norm1;
    private readonly LayerNorm norm2;
    private readonly Parameter alpha_attn;
    private readonly Parameter alpha_dense;
#pragma warning restore IDE1006

    /// <param name="queryDim">Visual token width.</param>
    /// <param name="contextDim">Grounding token width (the UNet's cross_attention_dim).</param>
    public GatedSelfAttentionDense(long queryDim, long contextDim, int heads, long headDim, string name = "fuser") : base(name)
    {
        linear = Layers.Linear(contextDim, queryDim);
        attn = new Attention(new AttentionOptions(queryDim, heads, headDim), "attn");
        ff = new FeedForward(queryDim, queryDim * 4);
        norm1 = Layers.LayerNorm(queryDim, 1e-5);
        norm2 = Layers.LayerNorm(queryDim, 1e-5);
        alpha_attn = nn.Parameter(torch.zeros(1).squeeze());
        alpha_dense = nn.Parameter(torch.zeros(1).squeeze());
        RegisterComponents();
    }

    /// <param name="x">(B, N, queryDim) visual tokens.</param>
    /// <param name="objects">(B, M, contextDim) grounding tokens.</param>
    public override Tensor forward(Tensor x, Tensor objects)
    {
        using var scope = torch.NewDisposeScope();
        var visualTokens = x.shape[1];
        var grounding = linear.call(objects); // (B, M, queryDim)
        var joint = attn.call(norm1.call(torch.cat([x, grounding], 1)), null); // (B, N+M, queryDim)
        x = x + alpha_attn.tanh() * joint[.., ..(int)visualTokens]; // (B, N, queryDim)
        x = x + alpha_dense.tanh() * ff.call(norm2.call(x)); // (B, N, queryDim)
        return x.MoveToOuterDisposeScope();
    }
}
