using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Models.Vae;

/// <summary>diffusers' DownEncoderBlock2D: resnets without time embedding, then an optional downsampler.</summary>
public sealed class DownEncoderBlock2D : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly ModuleList<ResnetBlock2D> resnets;
    private readonly ModuleList<Downsample2D>? downsamplers;
#pragma warning restore IDE1006

    public DownEncoderBlock2D(int numLayers, long inChannels, long outChannels, int groups, double eps, string activation,
        bool addDownsample, long downsamplePadding) : base(nameof(DownEncoderBlock2D))
    {
        resnets = new ModuleList<ResnetBlock2D>(Enumerable.Range(0, numLayers).Select(i =>
            new ResnetBlock2D(new ResnetBlock2DOptions(i == 0 ? inChannels : outChannels, outChannels, null, groups, eps, activation))).ToArray());
        if (addDownsample)
            downsamplers = new ModuleList<Downsample2D>(new Downsample2D(outChannels, outChannels, downsamplePadding));
        RegisterComponents();
    }

    public override Tensor forward(Tensor h)
    {
        using var scope = torch.NewDisposeScope();
        foreach (var resnet in resnets)
            h = resnet.call(h, null); // (B, Cout, H, W)
        if (downsamplers is not null)
        {
            foreach (var down in downsamplers)
                h = down.call(h); // (B, Cout, H/2, W/2)
        }
        return h.MoveToOuterDisposeScope();
    }
}
