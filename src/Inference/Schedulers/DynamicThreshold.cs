using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Schedulers;

/// <summary>
/// Dynamic thresholding of the predicted x_0 (Saharia et al. 2022, "Imagen", §2.3): clamp each
/// sample to its own percentile s ≥ 1 of |x_0| (capped at sample_max_value) and divide by s.
/// </summary>
internal static class DynamicThreshold
{
    public static Tensor Apply(Tensor sample, SchedulerConfig config)
    {
        using var scope = torch.NewDisposeScope();
        var dtype = sample.dtype;
        var shape = sample.shape;
        var batch = shape[0];
        var work = dtype is ScalarType.Float32 or ScalarType.Float64 ? sample : sample.to(float32);
        work = work.reshape(batch, -1);
        var absSample = work.abs();
        var s = torch.quantile(absSample, config.DynamicThresholdingRatio, dim: 1);
        s = torch.clamp(s, 1, config.SampleMaxValue).unsqueeze(1);
        work = torch.clamp(work, -s, s) / s;
        return work.reshape(shape).to(dtype).MoveToOuterDisposeScope();
    }
}
