using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Models.Vae;

/// <summary>diffusers' UpDecoderBlock2D: resnets without time embedding or skips, then an optional upsampler.</summary>
public sealed class UpDecoderBlock2D : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly ModuleList<ResnetBlock2D> resnets;
    private readonly ModuleList<Upsample2D>? upsamplers;
#pragma warning restore IDE1006

    public UpDecoderBlock2D(int numLayers, long inChannels, long outChannels, int groups, double eps, string activation,
        bool addUpsample) : base(nameof(UpDecoderBlock2D))
    {
        resnets = new ModuleList<ResnetBlock2D>(Enumerable.Range(0, numLayers).Select(i =>
            new ResnetBlock2D(new ResnetBlock2DOptions(i == 0 ? inChannels : outChannels, outChannels, null, groups, eps, activation))).ToArray());
        if (addUpsample)
            upsamplers = new ModuleList<Upsample2D>(new Upsample2D(outChannels, outChannels));
        RegisterComponents();
    }

    public override Tensor forward(Tensor h)
    {
        using var scope = torch.NewDisposeScope();
        foreach (var resnet in resnets)
            h = resnet.call(h, null); // (B, Cout, H, W)
        if (upsamplers is not null)
        {
            foreach (var up in upsamplers)
                h = up.call(h, null); // (B, Cout, 2H, 2W)
        }
        return h.MoveToOuterDisposeScope();
    }
}
