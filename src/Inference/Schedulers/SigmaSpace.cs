using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Schedulers;

/// <summary>Bookkeeping shared by the σ-space (k-diffusion style) schedulers.</summary>
internal static class SigmaSpace
{
    /// <summary>
    /// The float timesteps of the Euler family and LMS (descending): linspace in float64 cast to
    /// float32; leading/trailing on integers.
    /// </summary>
    public static double[] FloatTimesteps(string spacing, int numTrain, int numSteps, int stepsOffset)
    {
        IEnumerable<double> values = spacing switch
        {
            "linspace" => NumpyCompat.Reverse(NumpyCompat.Linspace(0, numTrain - 1, numSteps)),
            "leading" => Enumerable.Range(0, numSteps).Select(i => (double)((long)i * (numTrain / numSteps) + stepsOffset)).Reverse(),
            "trailing" => NumpyCompat.Arange(numTrain, 0, -(numTrain / (double)numSteps)).Select(v => NumpyCompat.Round(v) - 1),
            _ => throw new NotSupportedException($"timestep_spacing '{spacing}' is not supported (leading, trailing, linspace)."),
        };
        // The schedule is stored as float32.
        return values.Select(v => (double)(float)v).ToArray();
    }

    /// <summary>max σ for linspace/trailing spacing, else √(σ_max² + 1) (float32 arithmetic, as diffusers).</summary>
    public static double InitNoiseSigma(Tensor sigmas, string spacing)
    {
        using var scope = torch.NewDisposeScope();
        var max = sigmas.max();
        return spacing is "linspace" or "trailing" ? max.item<float>() : (max.pow(2) + 1).pow(0.5).item<float>();
    }

    /// <summary>diffusers' index_for_timestep: the second match when the timestep repeats (img2img), else the first.</summary>
    public static int IndexForTimestep(Tensor schedule, Tensor timestep, bool lastWhenMissing = false)
    {
        using var scope = torch.NewDisposeScope();
        var t = timestep.to(schedule.dtype, schedule.device);
        var matches = (schedule == t).nonzero();
        var count = matches.shape[0];
        if (count == 0)
        {
            if (lastWhenMissing) return (int)schedule.shape[0] - 1;
            throw new ArgumentException($"Timestep {timestep.to(float64).item<double>()} is not in the schedule.", nameof(timestep));
        }
        return (int)matches[count > 1 ? 1 : 0, 0].item<long>();
    }

    /// <summary>x_t = x_0 + σ(t) ε, σ(t) looked up in the inference schedule.</summary>
    public static Tensor AddNoise(Tensor sigmas, Tensor schedule, Tensor original, Tensor noise, Tensor timesteps, bool lastWhenMissing = false)
    {
        using var scope = torch.NewDisposeScope();
        var indices = Enumerable.Range(0, (int)timesteps.shape[0])
            .Select(i => (long)IndexForTimestep(schedule, timesteps[i], lastWhenMissing)).ToArray();
        var sigma = NoiseSchedule.Expand(sigmas.to(original.dtype, original.device)[torch.tensor(indices, device: original.device)].flatten(), original.dim());
        return (original + noise * sigma).MoveToOuterDisposeScope();
    }
}
