using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Models.UNet;

/// <summary>diffusers' UNetMidBlock2DCrossAttn: resnet, then (Transformer2DModel, resnet) pairs.</summary>
public sealed class UNetMidBlock2DCrossAttn : nn.Module<Tensor, Tensor, Tensor?, Tensor>
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly ModuleList<Transformer2DModel> attentions;
    private readonly ModuleList<ResnetBlock2D> resnets;
#pragma warning restore IDE1006

    /// <param name="o">Block options; NumLayers is the number of attention layers (1 in every SD UNet).</param>
    /// <param name="outputScaleFactor">mid_block_scale_factor.</param>
    public UNetMidBlock2DCrossAttn(UNetBlockOptions o, double outputScaleFactor) : base(nameof(UNetMidBlock2DCrossAttn))
    {
        var c = o.InChannels;
        resnets = new ModuleList<ResnetBlock2D>(Enumerable.Range(0, o.NumLayers + 1).Select(_ => o.Resnet(c, c, outputScaleFactor)).ToArray());
        attentions = new ModuleList<Transformer2DModel>(Enumerable.Range(0, o.NumLayers).Select(_ => o.Transformer(c)).ToArray());
        RegisterComponents();
    }

    /// <param name="h">(B, C, H, W)</param>
    /// <param name="temb">(B, T)</param>
    /// <param name="encoderHiddenStates">(B, M, D)</param>
    public override Tensor forward(Tensor h, Tensor temb, Tensor? encoderHiddenStates) => forward(h, temb, encoderHiddenStates, null);

    /// <param name="context">The UNet call's context, handed to every attention call.</param>
    public Tensor forward(Tensor h, Tensor temb, Tensor? encoderHiddenStates, AttentionContext? context)
    {
        using var scope = torch.NewDisposeScope();
        h = resnets[0].call(h, temb); // (B, C, H, W)
        for (var i = 0; i < attentions.Count; i++)
        {
            h = attentions[i].forward(h, encoderHiddenStates, context); // (B, C, H, W)
            h = resnets[i + 1].call(h, temb); // (B, C, H, W)
        }
        return h.MoveToOuterDisposeScope();
    }
}
