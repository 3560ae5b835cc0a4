using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Schedulers;

/// <summary>
/// Ancestral Euler sampler (k-diffusion's sample_euler_ancestral; Karras et al. 2022 σ-space
/// formulation with the DDPM ancestral split σ_up / σ_down), diffusers' EulerAncestralDiscreteScheduler.
/// </summary>
public sealed class EulerAncestralDiscreteScheduler : IScheduler
{
    private readonly OwnedTensors _owned = new();
    private int? _stepIndex;

    public EulerAncestralDiscreteScheduler(SchedulerConfig config)
    {
        Config = config;
        AlphasCumprod = NoiseSchedule.FiniteAlphasCumprod(config, _owned);
        var train = config.NumTrainTimesteps;
        var sigmas = NoiseSchedule.TrainingSigmas(AlphasCumprod).Reverse().Append(0f).ToArray();
        Sigmas = torch.tensor(sigmas, dtype: float32).OwnedBy(_owned);
        Timesteps = torch.tensor(NumpyCompat.Reverse(NumpyCompat.Linspace(0, train - 1, train)), dtype: float64).to(float32).OwnedBy(_owned);
    }

    public string ClassName => nameof(EulerAncestralDiscreteScheduler);
    public SchedulerConfig Config { get; }
    public int Order => 1;
    public Tensor AlphasCumprod { get; }
    public Tensor Timesteps { get; private set; }
    public Tensor Sigmas { get; private set; }
    Tensor? IScheduler.Sigmas => Sigmas;

    private string Spacing => Config.TimestepSpacing ?? "linspace";

    public double InitNoiseSigma => SigmaSpace.InitNoiseSigma(Sigmas, Spacing);

    public void SetTimesteps(int numInferenceSteps)
    {
        var train = Config.NumTrainTimesteps;
        if (numInferenceSteps < 1 || numInferenceSteps > train)
            throw new ArgumentOutOfRangeException(nameof(numInferenceSteps), $"Must be in 1..{train} (num_train_timesteps).");
        var timesteps = SigmaSpace.FloatTimesteps(Spacing, train, numInferenceSteps, Config.StepsOffset);
        var fp = NoiseSchedule.TrainingSigmas(AlphasCumprod).Select(s => (double)s).ToArray();
        var sigmas = timesteps.Select(t => (float)NumpyCompat.Interp(t, fp)).Append(0f).ToArray();
        Timesteps.Dispose();
        Sigmas.Dispose();
        Sigmas = torch.tensor(sigmas, dtype: float32).OwnedBy(_owned);
        Timesteps = torch.tensor(timesteps.Select(t => (float)t).ToArray(), dtype: float32).OwnedBy(_owned);
        _stepIndex = null;
    }

    public Tensor ScaleModelInput(Tensor sample, Tensor timestep)
    {
        _stepIndex ??= SigmaSpace.IndexForTimestep(Timesteps, timestep);
        using var scope = torch.NewDisposeScope();
        var sigma = Sigmas[_stepIndex.Value];
        return (sample / (sigma.pow(2) + 1).pow(0.5)).MoveToOuterDisposeScope();
    }

    public SchedulerStepResult Step(Tensor modelOutput, Tensor timestep, Tensor sample, INoiseSource? noise = null, StepOptions? options = null)
    {
        _stepIndex ??= SigmaSpace.IndexForTimestep(Timesteps, timestep);
        using var scope = torch.NewDisposeScope();
        var index = _stepIndex.Value;
        var sigma = Sigmas[index];
        sample = sample.to(float32);

        var predOriginal = Config.PredictionType switch
        {
            "epsilon" => sample - sigma * modelOutput,
            "v_prediction" => modelOutput * (-sigma / (sigma.pow(2) + 1).pow(0.5)) + sample / (sigma.pow(2) + 1),
            var other => throw new NotSupportedException($"prediction_type '{other}' is not supported by EulerAncestral."),
        };

        // Split the move to σ_to into a deterministic part down to σ_down and fresh noise σ_up.
        var sigmaFrom = Sigmas[index];
        var sigmaTo = Sigmas[index + 1];
        var sigmaUp = (sigmaTo.pow(2) * (sigmaFrom.pow(2) - sigmaTo.pow(2)) / sigmaFrom.pow(2)).pow(0.5);
        var sigmaDown = (sigmaTo.pow(2) - sigmaUp.pow(2)).pow(0.5);

        var derivative = (sample - predOriginal) / sigma;
        var dt = sigmaDown - sigma;
        var prevSample = sample + derivative * dt;

        var source = noise ?? throw new ArgumentNullException(nameof(noise), "EulerAncestral draws noise on every step; pass a noise source.");
        var z = source.Next(modelOutput.shape, modelOutput.dtype, modelOutput.device);
        prevSample = (prevSample + z * sigmaUp).to(modelOutput.dtype);
        _stepIndex = index + 1;
        return new SchedulerStepResult(prevSample.MoveToOuterDisposeScope(), predOriginal.MoveToOuterDisposeScope());
    }

    public Tensor AddNoise(Tensor originalSamples, Tensor noise, Tensor timesteps) =>
        SigmaSpace.AddNoise(Sigmas, Timesteps, originalSamples, noise, timesteps);

    /// <summary>Disposes the schedules and step state this scheduler holds.</summary>
    public void Dispose() => _owned.Dispose();
}
