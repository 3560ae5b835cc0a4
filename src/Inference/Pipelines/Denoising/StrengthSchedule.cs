using Easel.Inference.Schedulers;
using static TorchSharp.torch;

namespace Easel.Inference.Pipelines.Denoising;

/// <summary>Where an image-conditioned run enters the schedule.</summary>
public static class StrengthSchedule
{
    /// <summary>diffusers' get_timesteps: the last int(N·strength) steps of the schedule (times the scheduler order).</summary>
    public static Tensor Timesteps(IScheduler scheduler, int steps, double strength)
    {
        var kept = Math.Min((int)(steps * strength), steps);
        var skip = Math.Max(steps - kept, 0);
        return scheduler.Timesteps[(skip * scheduler.Order)..];
    }
}
