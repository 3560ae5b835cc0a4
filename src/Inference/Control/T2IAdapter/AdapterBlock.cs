using Easel.Inference.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Control.T2IAdapter;

/// <summary>
/// diffusers' AdapterBlock (full adapters): an optional 2×2 average-pool downsampling (ceil mode), a 1×1 conv when the width
/// changes, then <see cref="AdapterResnetBlock"/>s.
/// </summary>
public sealed class AdapterBlock : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly LoraConv2d? in_conv;
    private readonly Sequential resnets;
#pragma warning restore IDE1006
    private readonly bool _down;

    public AdapterBlock(long inChannels, long outChannels, int numResBlocks, bool down = false) : base(nameof(AdapterBlock))
    {
        _down = down;
        if (inChannels != outChannels)
            in_conv = Layers.Conv2d(inChannels, outChannels, 1);
        resnets = nn.Sequential(Enumerable.Range(0, numResBlocks).Select(_ => new AdapterResnetBlock(outChannels)).ToArray());
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        if (_down)
            x = nn.functional.avg_pool2d(x, 2, 2, ceil_mode: true); // (B, Cin, ⌈H/2⌉, ⌈W/2⌉)
        if (in_conv is not null)
            x = in_conv.call(x); // (B, Cout, H, W)
        return resnets.call(x).MoveToOuterDisposeScope();
    }
}
