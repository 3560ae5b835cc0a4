using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Models.UNet;

/// <summary>diffusers' DownBlock2D: resnets, then an optional stride-2 downsampler.</summary>
public sealed class DownBlock2D : UNetDownBlock
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly ModuleList<ResnetBlock2D> resnets;
    private readonly ModuleList<Downsample2D>? downsamplers;
#pragma warning restore IDE1006

    public DownBlock2D(UNetBlockOptions o) : base(nameof(DownBlock2D))
    {
        resnets = new ModuleList<ResnetBlock2D>(Enumerable.Range(0, o.NumLayers)
            .Select(i => o.Resnet(i == 0 ? o.InChannels : o.OutChannels, o.OutChannels)).ToArray());
        if (o.AddResample)
            downsamplers = new ModuleList<Downsample2D>(new Downsample2D(o.OutChannels, o.OutChannels, o.DownsamplePadding));
        RegisterComponents();
    }

    public override bool HasCrossAttention => false;

    public override DownBlockOutput forward(DownBlockInput input)
    {
        using var scope = torch.NewDisposeScope();
        var h = input.Hidden;
        var res = new List<Tensor>();
        foreach (var resnet in resnets)
        {
            h = resnet.call(h, input.Temb); // (B, Cout, H, W)
            res.Add(h);
        }
        if (downsamplers is not null)
        {
            foreach (var down in downsamplers)
                h = down.call(h); // (B, Cout, H/2, W/2)
            res.Add(h);
        }
        return Detach(h, res);
    }
}
