using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Models.UNet;

/// <summary>diffusers' CrossAttnUpBlock2D: (resnet over [hidden, skip], Transformer2DModel) pairs, then an optional upsampler.</summary>
public sealed class CrossAttnUpBlock2D : UNetUpBlock
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly ModuleList<Transformer2DModel> attentions;
    private readonly ModuleList<ResnetBlock2D> resnets;
    private readonly ModuleList<Upsample2D>? upsamplers;
#pragma warning restore IDE1006

    public CrossAttnUpBlock2D(UNetBlockOptions o) : base(nameof(CrossAttnUpBlock2D))
    {
        resnets = new ModuleList<ResnetBlock2D>(Enumerable.Range(0, o.NumLayers).Select(i =>
        {
            var skip = i == o.NumLayers - 1 ? o.InChannels : o.OutChannels;
            var resnetIn = i == 0 ? o.PrevOutputChannels : o.OutChannels;
            return o.Resnet(resnetIn + skip, o.OutChannels);
        }).ToArray());
        attentions = new ModuleList<Transformer2DModel>(Enumerable.Range(0, o.NumLayers)
            .Select(_ => o.Transformer(o.OutChannels)).ToArray());
        if (o.AddResample)
            upsamplers = new ModuleList<Upsample2D>(new Upsample2D(o.OutChannels, o.OutChannels));
        RegisterComponents();
    }

    public override bool HasCrossAttention => true;
    public override int NumResnets => resnets.Count;

    public override Tensor forward(UpBlockInput input)
    {
        using var scope = torch.NewDisposeScope();
        var h = input.Hidden;
        var skips = input.ResHiddenStates;
        for (var i = 0; i < resnets.Count; i++)
        {
            var skip = skips[skips.Count - 1 - i];
            h = torch.cat([h, skip], 1); // (B, C + Cskip, H, W)
            h = resnets[i].call(h, input.Temb); // (B, Cout, H, W)
            h = attentions[i].forward(h, input.EncoderHiddenStates, input.Context); // (B, Cout, H, W)
        }
        if (upsamplers is not null)
        {
            foreach (var up in upsamplers)
                h = up.call(h, input.UpsampleSize); // (B, Cout, 2H, 2W)
        }
        return h.MoveToOuterDisposeScope();
    }
}
