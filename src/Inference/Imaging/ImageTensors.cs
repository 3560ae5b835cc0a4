using Easel.Inference.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Imaging;

/// <summary>Conversions between decoder output tensors and 8-bit images.</summary>
public static class ImageTensors
{
    /// <summary>
    /// Maps a decoded batch (N, 3, H, W) in [-1, 1] to [0, 1] exactly as diffusers' image processor
    /// does (x/2 + 0.5, clamped), returned as float32 NHWC on the CPU.
    /// </summary>
    public static Tensor ToUnitNhwc(Tensor decoded)
    {
        using var scope = torch.NewDisposeScope();
        var unit = (decoded.to(float32) / 2 + 0.5).clamp(0, 1); // (N, 3, H, W)
        return unit.permute(0, 2, 3, 1).contiguous().cpu().MoveToOuterDisposeScope(); // (N, H, W, 3)
    }

    /// <summary>Rounds a [0, 1] NHWC batch to 8-bit images (round half to even, as numpy does).</summary>
    public static IReadOnlyList<GeneratedImage> ToImages(Tensor unitNhwc)
    {
        using var scope = torch.NewDisposeScope();
        var bytes = (unitNhwc * 255).round().to(ScalarType.Byte).cpu(); // (N, H, W, 3)
        var count = (int)bytes.shape[0];
        var height = (int)bytes.shape[1];
        var width = (int)bytes.shape[2];
        var images = new List<GeneratedImage>(count);
        for (var i = 0; i < count; i++)
            images.Add(new GeneratedImage(width, height, bytes[i].data<byte>().ToArray()));
        return images;
    }
}
