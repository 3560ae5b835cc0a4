using static TorchSharp.torch;

namespace Easel.Inference.Schedulers;

/// <summary>
/// The outcome of one denoising step: x_{t-1} and, where the scheduler computes it, the predicted
/// x_0 (for LCM the boundary-condition "denoised" sample, as diffusers returns it).
/// </summary>
public sealed record SchedulerStepResult(Tensor PrevSample, Tensor? PredOriginalSample);
