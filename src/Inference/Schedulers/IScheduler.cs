using static TorchSharp.torch;

namespace Easel.Inference.Schedulers;

/// <summary>
/// A diffusion sampler, as diffusers' SchedulerMixin: pure arithmetic on tensors, no model.
/// Usage: <c>SetTimesteps(n)</c>; <c>x = noise * InitNoiseSigma</c>; for each <c>t</c> in
/// <see cref="Timesteps"/>: <c>eps = unet(ScaleModelInput(x, t), t)</c>; <c>x = Step(eps, t, x, noise).PrevSample</c>.
/// Schedules are held on the CPU; inputs may live on any device. Disposing it frees its schedules and step state.
/// </summary>
public interface IScheduler : IDisposable
{
    /// <summary>The diffusers class this scheduler reproduces, e.g. "DDIMScheduler".</summary>
    string ClassName { get; }

    SchedulerConfig Config { get; }

    /// <summary>Model evaluations per element of <see cref="Timesteps"/> (diffusers' order).</summary>
    int Order { get; }

    /// <summary>ᾱ_t for the training timesteps (float32, length num_train_timesteps).</summary>
    Tensor AlphasCumprod { get; }

    /// <summary>The timesteps to visit, as diffusers exposes them: int64 (DDIM, DDPM, PNDM, LCM, DPM-Solver) or float32 (Euler family, LMS).</summary>
    Tensor Timesteps { get; }

    /// <summary>The σ schedule of sigma-space schedulers (float32, one more than the timesteps), otherwise null.</summary>
    Tensor? Sigmas { get; }

    /// <summary>The standard deviation of the initial noise.</summary>
    double InitNoiseSigma { get; }

    /// <summary>Builds the inference schedule.</summary>
    void SetTimesteps(int numInferenceSteps);

    /// <summary>Scales the denoiser input for timestep <paramref name="timestep"/> (identity except in σ-space).</summary>
    Tensor ScaleModelInput(Tensor sample, Tensor timestep);

    /// <summary>One reverse step from <paramref name="timestep"/>. <paramref name="noise"/> is required by stochastic schedulers.</summary>
    SchedulerStepResult Step(Tensor modelOutput, Tensor timestep, Tensor sample, INoiseSource? noise = null, StepOptions? options = null);

    /// <summary>The forward process q(x_t | x_0) at <paramref name="timesteps"/> (one per batch element).</summary>
    Tensor AddNoise(Tensor originalSamples, Tensor noise, Tensor timesteps);
}
