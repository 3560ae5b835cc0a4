using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Models;

/// <summary>Construction options of <see cref="Transformer2DModel"/>.</summary>
public sealed record Transformer2DOptions(
    int Heads,
    long HeadDim,
    long InChannels,
    int NumLayers,
    long CrossAttentionDim,
    int NormNumGroups,
    bool UseLinearProjection,
    bool OnlyCrossAttention,
    bool UpcastAttention,
    bool Gated = false);

/// <summary>
/// diffusers' Transformer2DModel for continuous (image-shaped) input: GroupNorm (eps 1e-6), proj_in
/// (1×1 conv, or Linear with use_linear_projection), transformer_blocks, proj_out, residual.
/// </summary>
public sealed class Transformer2DModel : nn.Module<Tensor, Tensor?, Tensor>
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly GroupNorm norm;
    private readonly nn.Module<Tensor, Tensor> proj_in;
    private readonly ModuleList<BasicTransformerBlock> transformer_blocks;
    private readonly nn.Module<Tensor, Tensor> proj_out;
#pragma warning restore IDE1006
    private readonly bool _linear;

    public Transformer2DModel(Transformer2DOptions o, string name = "transformer") : base(name)
    {
        _linear = o.UseLinearProjection;
        var inner = o.Heads * o.HeadDim;
        norm = Layers.GroupNorm(o.NormNumGroups, o.InChannels, 1e-6);
        proj_in = _linear ? Layers.Linear(o.InChannels, inner) : Layers.Conv2d(o.InChannels, inner, 1);
        transformer_blocks = new ModuleList<BasicTransformerBlock>(Enumerable.Range(0, o.NumLayers)
            .Select(_ => new BasicTransformerBlock(inner, o.Heads, o.HeadDim, o.CrossAttentionDim, o.OnlyCrossAttention, o.UpcastAttention, gated: o.Gated))
            .ToArray());
        proj_out = _linear ? Layers.Linear(inner, o.InChannels) : Layers.Conv2d(inner, o.InChannels, 1);
        RegisterComponents();
    }

    public IReadOnlyList<BasicTransformerBlock> TransformerBlocks => transformer_blocks.ToList();

    /// <param name="x">(B, C, H, W)</param>
    /// <param name="encoderHiddenStates">(B, M, cross_attention_dim)</param>
    public override Tensor forward(Tensor x, Tensor? encoderHiddenStates) => forward(x, encoderHiddenStates, null);

    /// <param name="context">The UNet call's context, handed to every transformer block.</param>
    public Tensor forward(Tensor x, Tensor? encoderHiddenStates, AttentionContext? context)
    {
        using var scope = torch.NewDisposeScope();
        var (b, h, w) = (x.shape[0], x.shape[2], x.shape[3]);
        var residual = x;
        var hidden = norm.call(x); // (B, C, H, W)
        long inner;
        if (!_linear)
        {
            hidden = proj_in.call(hidden); // (B, inner, H, W)
            inner = hidden.shape[1];
            hidden = hidden.permute(0, 2, 3, 1).reshape(b, h * w, inner); // (B, HW, inner)
        }
        else
        {
            hidden = hidden.permute(0, 2, 3, 1).reshape(b, h * w, hidden.shape[1]); // (B, HW, C)
            hidden = proj_in.call(hidden); // (B, HW, inner)
            inner = hidden.shape[2];
        }
        foreach (var block in transformer_blocks)
            hidden = block.forward(hidden, encoderHiddenStates, context); // (B, HW, inner)
        if (!_linear)
        {
            hidden = hidden.reshape(b, h, w, inner).permute(0, 3, 1, 2).contiguous(); // (B, inner, H, W)
            hidden = proj_out.call(hidden); // (B, C, H, W)
        }
        else
        {
            hidden = proj_out.call(hidden); // (B, HW, C)
            hidden = hidden.reshape(b, h, w, hidden.shape[2]).permute(0, 3, 1, 2).contiguous(); // (B, C, H, W)
        }
        return (hidden + residual).MoveToOuterDisposeScope();
    }
}
