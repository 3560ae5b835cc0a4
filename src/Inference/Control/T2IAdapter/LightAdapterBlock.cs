using Easel.Inference.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Control.T2IAdapter;

/// <summary>
/// diffusers' LightAdapterBlock: an optional 2×2 average-pool downsampling (ceil mode), a 1×1 conv down to a quarter of the
/// output width, <see cref="LightAdapterResnetBlock"/>s there, and a 1×1 conv up to the output width.
/// </summary>
public sealed class LightAdapterBlock : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly LoraConv2d in_conv;
    private readonly Sequential resnets;
    private readonly LoraConv2d out_conv;
#pragma warning restore IDE1006
    private readonly bool _down;

    public LightAdapterBlock(long inChannels, long outChannels, int numResBlocks, bool down = false) : base(nameof(LightAdapterBlock))
    {
        _down = down;
        var midChannels = outChannels / 4;
        in_conv = Layers.Conv2d(inChannels, midChannels, 1);
        resnets = nn.Sequential(Enumerable.Range(0, numResBlocks).Select(_ => new LightAdapterResnetBlock(midChannels)).ToArray());
        out_conv = Layers.Conv2d(midChannels, outChannels, 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        if (_down)
            x = nn.functional.avg_pool2d(x, 2, 2, ceil_mode: true); // (B, Cin, ⌈H/2⌉, ⌈W/2⌉)
        x = in_conv.call(x); // (B, Cout/4, H, W)
        x = resnets.call(x);
        return out_conv.call(x).MoveToOuterDisposeScope(); // (B, Cout, H, W)
    }
}
