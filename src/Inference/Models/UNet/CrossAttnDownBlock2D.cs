using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Models.UNet;

/// <summary>diffusers' CrossAttnDownBlock2D: (resnet, Transformer2DModel) pairs, then an optional downsampler.</summary>
public sealed class CrossAttnDownBlock2D : UNetDownBlock
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly ModuleList<Transformer2DModel> attentions;
    private readonly ModuleList<ResnetBlock2D> resnets;
    private readonly ModuleList<Downsample2D>? downsamplers;
#pragma warning restore IDE1006

    public CrossAttnDownBlock2D(UNetBlockOptions o) : base(nameof(CrossAttnDownBlock2D))
    {
        resnets = new ModuleList<ResnetBlock2D>(Enumerable.Range(0, o.NumLayers)
            .Select(i => o.Resnet(i == 0 ? o.InChannels : o.OutChannels, o.OutChannels)).ToArray());
        attentions = new ModuleList<Transformer2DModel>(Enumerable.Range(0, o.NumLayers)
            .Select(_ => o.Transformer(o.OutChannels)).ToArray());
        if (o.AddResample)
            downsamplers = new ModuleList<Downsample2D>(new Downsample2D(o.OutChannels, o.OutChannels, o.DownsamplePadding));
        RegisterComponents();
    }

    public override bool HasCrossAttention => true;

    public override DownBlockOutput forward(DownBlockInput input)
    {
        using var scope = torch.NewDisposeScope();
        var h = input.Hidden;
        var res = new List<Tensor>();
        for (var i = 0; i < resnets.Count; i++)
        {
            h = resnets[i].call(h, input.Temb); // (B, Cout, H, W)
            h = attentions[i].forward(h, input.EncoderHiddenStates, input.Context); // (B, Cout, H, W)
            if (i == resnets.Count - 1 && input.AdditionalResidual is not null)
                h = h + input.AdditionalResidual;
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
