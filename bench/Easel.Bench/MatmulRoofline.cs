using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Bench;

/// <summary>The dense matmul rate of this machine: the ceiling a UNet call is compared with.</summary>
internal static class MatmulRoofline
{
    /// <summary>Best GFLOP/s over square sizes 1024, 1536, 2048 for one dtype.</summary>
    public static double MeasureGflops(ScalarType dtype, Device device, Table table)
    {
        var best = 0.0;
        foreach (var n in new[] { 1024, 1536, 2048 })
        {
            using var scope = torch.NewDisposeScope();
            var a = torch.randn(n, n, dtype: float32).to(dtype, device);
            var b = torch.randn(n, n, dtype: float32).to(dtype, device);
            var ms = Timing.MedianMs(() =>
            {
                using var inner = torch.NewDisposeScope();
                _ = torch.matmul(a, b);
                if (device.type == DeviceType.CUDA) torch.cuda.synchronize();
            }, warmup: 2, repeats: 5);
            var gflops = 2.0 * n * n * n / (ms * 1e6);
            best = Math.Max(best, gflops);
            table.Add($"matmul {n}×{n}", dtype.ToString().ToLowerInvariant(), ms, gflops, "");
        }
        return best;
    }
}
