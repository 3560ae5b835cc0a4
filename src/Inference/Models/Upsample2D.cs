using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Models;

/// <summary>
/// diffusers' Upsample2D with use_conv: nearest-neighbour ×2 (or to an explicit size, used when the
/// latent size is not a multiple of the total upsampling factor), then a 3×3 convolution.
/// </summary>
public sealed class Upsample2D : nn.Module<Tensor, long[]?, Tensor>
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly LoraConv2d conv;
#pragma warning restore IDE1006

    public Upsample2D(long channels, long outChannels, string name = "upsample") : base(name)
    {
        conv = Layers.Conv2d(channels, outChannels, 3, padding: 1);
        RegisterComponents();
    }

    /// <param name="x">(B, C, H, W)</param>
    /// <param name="outputSize">(H', W') to resize to, or null for 2×.</param>
    public override Tensor forward(Tensor x, long[]? outputSize)
    {
        using var scope = torch.NewDisposeScope();
        var dtype = x.dtype;
        if (dtype == ScalarType.BFloat16)
            x = x.to(ScalarType.Float32); // nearest upsampling has no bfloat16 kernel in older libtorch
        x = outputSize is null
            ? nn.functional.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest) // (B, C, 2H, 2W)
            : nn.functional.interpolate(x, size: outputSize, mode: InterpolationMode.Nearest); // (B, C, H', W')
        if (dtype == ScalarType.BFloat16)
            x = x.to(dtype);
        return conv.call(x).MoveToOuterDisposeScope(); // (B, Cout, H', W')
    }
}
