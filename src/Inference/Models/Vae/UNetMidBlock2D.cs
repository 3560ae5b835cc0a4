using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Models.Vae;

/// <summary>
/// diffusers' UNetMidBlock2D as the VAE uses it: resnet, then (single-head spatial self-attention with
/// GroupNorm and residual, resnet) pairs; no time embedding.
/// </summary>
public sealed class UNetMidBlock2D : nn.Module<Tensor, Tensor?, Tensor>
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly ModuleList<Attention> attentions;
    private readonly ModuleList<ResnetBlock2D> resnets;
#pragma warning restore IDE1006

    public UNetMidBlock2D(long channels, int groups, double eps, string activation, long attentionHeadDim, bool addAttention,
        int numLayers = 1, double outputScaleFactor = 1.0) : base(nameof(UNetMidBlock2D))
    {
        ResnetBlock2D Resnet() => new(new ResnetBlock2DOptions(channels, channels, null, groups, eps, activation, outputScaleFactor));
        resnets = new ModuleList<ResnetBlock2D>(Enumerable.Range(0, numLayers + 1).Select(_ => Resnet()).ToArray());
        attentions = new ModuleList<Attention>(addAttention
            ? Enumerable.Range(0, numLayers).Select(_ => new Attention(new AttentionOptions(channels, (int)(channels / attentionHeadDim), attentionHeadDim,
                Bias: true, UpcastSoftmax: true, NormNumGroups: groups, Eps: eps, ResidualConnection: true,
                RescaleOutputFactor: outputScaleFactor))).ToArray()
            : []);
        RegisterComponents();
    }

    /// <param name="h">(B, C, H, W)</param>
    /// <param name="temb">Unused by the VAE (null).</param>
    public override Tensor forward(Tensor h, Tensor? temb)
    {
        using var scope = torch.NewDisposeScope();
        h = resnets[0].call(h, temb); // (B, C, H, W)
        for (var i = 1; i < resnets.Count; i++)
        {
            if (attentions.Count > 0)
                h = attentions[i - 1].call(h, null); // (B, C, H, W)
            h = resnets[i].call(h, temb); // (B, C, H, W)
        }
        return h.MoveToOuterDisposeScope();
    }
}
