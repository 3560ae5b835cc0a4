using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Schedulers;

/// <summary>
/// Euler sampler of the probability-flow ODE in σ-space (Karras et al. 2022, "Elucidating the
/// Design Space…", Algorithm 2 with optional churn), diffusers' EulerDiscreteScheduler. Optional
/// Karras σ schedule (eq. 5 of the same paper).
/// </summary>
public sealed class EulerDiscreteScheduler : IScheduler
{
    private readonly OwnedTensors _owned = new();
    private int? _stepIndex;

    public EulerDiscreteScheduler(SchedulerConfig config)
    {
        Config = config;
        AlphasCumprod = NoiseSchedule.FiniteAlphasCumprod(config, _owned);

        var train = config.NumTrainTimesteps;
        using var scope = torch.NewDisposeScope();
        var sigmas = ((1 - AlphasCumprod) / AlphasCumprod).pow(0.5).flip(0);
        var timesteps = torch.tensor(NumpyCompat.Reverse(NumpyCompat.Linspace(0, train - 1, train)), dtype: float64).to(float32);
        if (config.TimestepType == "continuous" && config.PredictionType == "v_prediction")
            timesteps = 0.25 * sigmas.log();
        Timesteps = timesteps.OwnedBy(_owned);
        Sigmas = torch.cat([sigmas, torch.zeros(1)]).OwnedBy(_owned);
    }

    public string ClassName => nameof(EulerDiscreteScheduler);
    public SchedulerConfig Config { get; }
    public int Order => 1;
    public Tensor AlphasCumprod { get; }
    public Tensor Timesteps { get; private set; }
    public Tensor Sigmas { get; private set; }
    Tensor? IScheduler.Sigmas => Sigmas;

    private string Spacing => Config.TimestepSpacing ?? "linspace";

    public double InitNoiseSigma => SigmaSpace.InitNoiseSigma(Sigmas, Spacing);

    /// <summary>Index of the next step into <see cref="Timesteps"/> (null until the first step).</summary>
    public int? StepIndex => _stepIndex;

    public void SetTimesteps(int numInferenceSteps)
    {
        var train = Config.NumTrainTimesteps;
        if (numInferenceSteps < 1 || numInferenceSteps > train)
            throw new ArgumentOutOfRangeException(nameof(numInferenceSteps), $"Must be in 1..{train} (num_train_timesteps).");

        var timesteps = SigmaSpace.FloatTimesteps(Spacing, train, numInferenceSteps, Config.StepsOffset);
        var trainSigmas = NoiseSchedule.TrainingSigmas(AlphasCumprod);
        var logSigmas = SigmaSchedule.Log(trainSigmas);
        var fp = trainSigmas.Select(s => (double)s).ToArray();

        double[] sigmas;
        if (Config.InterpolationType == "linear")
        {
            sigmas = timesteps.Select(t => NumpyCompat.Interp(t, fp)).ToArray();
        }
        else if (Config.InterpolationType == "log_linear")
        {
            using var s = torch.linspace(logSigmas[^1], logSigmas[0], numInferenceSteps + 1, dtype: float32).exp();
            sigmas = s.data<float>().Select(v => (double)v).ToArray();
        }
        else
        {
            throw new NotSupportedException($"interpolation_type '{Config.InterpolationType}' is not supported (linear, log_linear).");
        }

        if (Config.UseKarrasSigmas)
        {
            sigmas = SigmaSchedule.Karras(Config, sigmas, numInferenceSteps);
            timesteps = sigmas.Select(s => SigmaSchedule.SigmaToT(s, logSigmas)).ToArray();
        }

        using var scope = torch.NewDisposeScope();
        var sigmaTensor = torch.tensor(sigmas, dtype: float64).to(float32);
        Tensor newTimesteps = Config.TimestepType == "continuous" && Config.PredictionType == "v_prediction"
            ? 0.25 * sigmaTensor.log()
            : torch.tensor(timesteps.Select(t => (float)t).ToArray(), dtype: float32);
        Timesteps.Dispose();
        Sigmas.Dispose();
        Timesteps = newTimesteps.OwnedBy(_owned);
        Sigmas = torch.cat([sigmaTensor, torch.zeros(1)]).OwnedBy(_owned);
        _stepIndex = null;
    }

    public Tensor ScaleModelInput(Tensor sample, Tensor timestep)
    {
        _stepIndex ??= SigmaSpace.IndexForTimestep(Timesteps, timestep);
        using var scope = torch.NewDisposeScope();
        var sigma = Sigmas[_stepIndex.Value];
        // Karras et al. 2022, Table 1: c_in = 1 / √(σ² + σ_data²) with σ_data = 1.
        return (sample / (sigma.pow(2) + 1).pow(0.5)).MoveToOuterDisposeScope();
    }

    public SchedulerStepResult Step(Tensor modelOutput, Tensor timestep, Tensor sample, INoiseSource? noise = null, StepOptions? options = null)
    {
        options ??= StepOptions.Default;
        _stepIndex ??= SigmaSpace.IndexForTimestep(Timesteps, timestep);
        if (_stepIndex.Value + 1 >= Sigmas.shape[0])
            throw new InvalidOperationException("Step called past the end of the schedule.");
        using var scope = torch.NewDisposeScope();
        var index = _stepIndex.Value;

        sample = sample.to(float32);
        var sigma = Sigmas[index];
        var sigmaValue = sigma.item<float>();
        var gamma = options.STmin <= sigmaValue && sigmaValue <= options.STmax
            ? Math.Min(options.SChurn / (Sigmas.shape[0] - 1), Math.Sqrt(2) - 1)
            : 0.0;

        // diffusers draws ε every step, even when churn is off; keep the noise stream aligned.
        var source = noise ?? throw new ArgumentNullException(nameof(noise), "EulerDiscreteScheduler draws noise every step; pass a noise source.");
        var eps = source.Next(modelOutput.shape, modelOutput.dtype, modelOutput.device) * options.SNoise;
        var sigmaHat = sigma * (gamma + 1);
        if (gamma > 0)
            sample = sample + eps * (sigmaHat.pow(2) - sigma.pow(2)).pow(0.5);

        var predOriginal = Config.PredictionType switch
        {
            "original_sample" or "sample" => modelOutput,
            "epsilon" => sample - sigmaHat * modelOutput,
            // Salimans & Ho 2022 v-parameterisation, written in σ-space.
            "v_prediction" => modelOutput * (-sigma / (sigma.pow(2) + 1).pow(0.5)) + sample / (sigma.pow(2) + 1),
            var other => throw new NotSupportedException($"prediction_type '{other}' is not supported by EulerDiscrete."),
        };

        // Euler step of dx/dσ = (x - x̂_0) / σ (Algorithm 2, lines 7-8).
        var derivative = (sample - predOriginal) / sigmaHat;
        var dt = Sigmas[index + 1] - sigmaHat;
        var prevSample = (sample + derivative * dt).to(modelOutput.dtype);
        _stepIndex = index + 1;
        return new SchedulerStepResult(prevSample.MoveToOuterDisposeScope(), predOriginal.MoveToOuterDisposeScope());
    }

    public Tensor AddNoise(Tensor originalSamples, Tensor noise, Tensor timesteps) =>
        SigmaSpace.AddNoise(Sigmas, Timesteps, originalSamples, noise, timesteps);

    /// <summary>Disposes the schedules and step state this scheduler holds.</summary>
    public void Dispose() => _owned.Dispose();
}
