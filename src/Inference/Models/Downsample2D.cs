using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Models;

/// <summary>
/// diffusers' Downsample2D with use_conv: a 3×3 stride-2 convolution. With padding 0 (the VAE encoder)
/// the input is first padded by one row/column at the bottom/right, as diffusers does.
/// </summary>
public sealed class Downsample2D : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly LoraConv2d conv;
#pragma warning restore IDE1006
    private readonly long _padding;

    public Downsample2D(long channels, long outChannels, long padding, string name = "downsample") : base(name)
    {
        _padding = padding;
        conv = Layers.Conv2d(channels, outChannels, 3, stride: 2, padding: padding);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        if (_padding == 0)
            x = nn.functional.pad(x, [0, 1, 0, 1], PaddingModes.Constant, 0); // (B, C, H+1, W+1)
        return conv.call(x).MoveToOuterDisposeScope(); // (B, Cout, H/2, W/2)
    }
}
