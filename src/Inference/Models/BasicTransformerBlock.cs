using Easel.Inference.Control.Gligen;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Models;

/// <summary>
/// diffusers' BasicTransformerBlock (norm_type layer_norm): self-attention (attn1), cross-attention
/// (attn2) and a GEGLU feed-forward, each pre-normed (norm1/2/3) and residual; with attention_type gated /
/// gated-text-image a GLIGEN fuser after the self-attention, run when the context carries grounding tokens.
/// </summary>
public sealed class BasicTransformerBlock : nn.Module<Tensor, Tensor?, Tensor>
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly LayerNorm norm1;
    private readonly Attention attn1;
    private readonly LayerNorm norm2;
    private readonly Attention attn2;
    private readonly LayerNorm norm3;
    private readonly FeedForward ff;
    private readonly GatedSelfAttentionDense? fuser;
#pragma warning restore IDE1006
    private readonly bool _onlyCrossAttention;

    public BasicTransformerBlock(long dim, int heads, long headDim, long crossAttentionDim, bool onlyCrossAttention,
        bool upcastAttention, double normEps = 1e-5, bool gated = false, string name = "transformer_block") : base(name)
    {
        _onlyCrossAttention = onlyCrossAttention;
        norm1 = Layers.LayerNorm(dim, normEps);
        attn1 = new Attention(new AttentionOptions(dim, heads, headDim,
            CrossAttentionDim: onlyCrossAttention ? crossAttentionDim : null, UpcastAttention: upcastAttention), "attn1");
        norm2 = Layers.LayerNorm(dim, normEps);
        attn2 = new Attention(new AttentionOptions(dim, heads, headDim,
            CrossAttentionDim: crossAttentionDim, UpcastAttention: upcastAttention), "attn2");
        norm3 = Layers.LayerNorm(dim, normEps);
        ff = new FeedForward(dim, dim * 4);
        if (gated)
            fuser = new GatedSelfAttentionDense(dim, crossAttentionDim, heads, headDim);
        RegisterComponents();
    }

    public Attention SelfAttention => attn1;
    public Attention CrossAttention => attn2;

    /// <summary>The GLIGEN fuser, or null when the UNet is not gated.</summary>
    public GatedSelfAttentionDense? Fuser => fuser;

    /// <param name="x">(B, N, dim)</param>
    /// <param name="encoderHiddenStates">(B, M, cross_attention_dim)</param>
    public override Tensor forward(Tensor x, Tensor? encoderHiddenStates) => forward(x, encoderHiddenStates, null);

    /// <param name="context">The UNet call's context, handed to both attention calls.</param>
    public Tensor forward(Tensor x, Tensor? encoderHiddenStates, AttentionContext? context)
    {
        using var scope = torch.NewDisposeScope();
        x = attn1.forward(norm1.call(x), _onlyCrossAttention ? encoderHiddenStates : null, null, context) + x; // (B, N, dim)
        if (fuser is not null && context?.Get<GligenGroundingTokens>() is { } grounding && grounding.ActiveAt(context.StepIndex, context.TotalSteps))
            x = fuser.call(x, grounding.Objects); // (B, N, dim)
        x = attn2.forward(norm2.call(x), encoderHiddenStates, null, context) + x; // (B, N, dim)
        x = ff.call(norm3.call(x)) + x; // (B, N, dim)
        return x.MoveToOuterDisposeScope();
    }
}
