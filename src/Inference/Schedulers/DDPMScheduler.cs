using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Schedulers;

/// <summary>
/// Denoising Diffusion Probabilistic Models (Ho, Jain, Abbeel 2020), diffusers' DDPMScheduler:
/// ancestral sampling from the posterior q(x_{t-1} | x_t, x_0) of eqs. 6-7.
/// </summary>
public sealed class DDPMScheduler : IScheduler
{
    private readonly OwnedTensors _owned = new();
    private int? _numInferenceSteps;

    public DDPMScheduler(SchedulerConfig config)
    {
        Config = config;
        (_, AlphasCumprod) = NoiseSchedule.Build(config, _owned);
        Timesteps = torch.arange(config.NumTrainTimesteps - 1, -1, -1, dtype: int64).OwnedBy(_owned);
    }

    public string ClassName => nameof(DDPMScheduler);
    public SchedulerConfig Config { get; }
    public int Order => 1;
    public Tensor AlphasCumprod { get; }
    public Tensor Timesteps { get; private set; }
    public Tensor? Sigmas => null;
    public double InitNoiseSigma => 1.0;

    private string VarianceType => Config.VarianceType ?? "fixed_small";

    public void SetTimesteps(int numInferenceSteps)
    {
        var n = Config.NumTrainTimesteps;
        if (numInferenceSteps < 1 || numInferenceSteps > n)
            throw new ArgumentOutOfRangeException(nameof(numInferenceSteps), $"Must be in 1..{n} (num_train_timesteps).");
        _numInferenceSteps = numInferenceSteps;
        Timesteps.Dispose();
        Timesteps = torch.tensor(DDIMScheduler.DiscreteTimesteps(Config.TimestepSpacing ?? "leading", n, numInferenceSteps, Config.StepsOffset), dtype: int64)
            .OwnedBy(_owned);
    }

    public Tensor ScaleModelInput(Tensor sample, Tensor timestep) => sample;

    private long PreviousTimestep(long t) => t - Config.NumTrainTimesteps / (_numInferenceSteps ?? Config.NumTrainTimesteps);

    private Tensor AlphaProd(long t) => t >= 0 ? AlphasCumprod[t] : torch.tensor(1.0f);

    /// <summary>Posterior variance β̃_t (eq. 7) or one of the other diffusers variance choices.</summary>
    private Tensor Variance(long t, Tensor? predictedVariance)
    {
        var alphaProdT = AlphaProd(t);
        var alphaProdTPrev = AlphaProd(PreviousTimestep(t));
        var currentBetaT = 1 - alphaProdT / alphaProdTPrev;
        var variance = torch.clamp((1 - alphaProdTPrev) / (1 - alphaProdT) * currentBetaT, min: 1e-20);
        switch (VarianceType)
        {
            case "fixed_small": return variance;
            case "fixed_small_log": return torch.exp(0.5 * torch.log(variance));
            case "fixed_large": return currentBetaT;
            case "fixed_large_log": return torch.log(currentBetaT);
            case "learned": return predictedVariance ?? throw new InvalidOperationException("variance_type 'learned' needs a model that predicts the variance.");
            case "learned_range":
            {
                // Nichol & Dhariwal 2021, eq. 15: interpolate log β̃ and log β.
                var p = predictedVariance ?? throw new InvalidOperationException("variance_type 'learned_range' needs a model that predicts the variance.");
                var frac = (p + 1) / 2;
                return frac * torch.log(currentBetaT) + (1 - frac) * torch.log(variance);
            }
            default: throw new NotSupportedException($"variance_type '{VarianceType}' is not supported by DDPM.");
        }
    }

    public SchedulerStepResult Step(Tensor modelOutput, Tensor timestep, Tensor sample, INoiseSource? noise = null, StepOptions? options = null)
    {
        using var scope = torch.NewDisposeScope();
        var t = timestep.item<long>();
        var prevT = PreviousTimestep(t);

        Tensor? predictedVariance = null;
        if (modelOutput.shape[1] == sample.shape[1] * 2 && VarianceType is "learned" or "learned_range")
        {
            var parts = modelOutput.split(sample.shape[1], 1);
            modelOutput = parts[0];
            predictedVariance = parts[1];
        }

        var alphaProdT = AlphaProd(t);
        var alphaProdTPrev = AlphaProd(prevT);
        var betaProdT = 1 - alphaProdT;
        var betaProdTPrev = 1 - alphaProdTPrev;
        var currentAlphaT = alphaProdT / alphaProdTPrev;
        var currentBetaT = 1 - currentAlphaT;

        // Eq. 15: x̂_0 from the model output.
        var predOriginal = Config.PredictionType switch
        {
            "epsilon" => (sample - betaProdT.pow(0.5) * modelOutput) / alphaProdT.pow(0.5),
            "sample" => modelOutput,
            "v_prediction" => alphaProdT.pow(0.5) * sample - betaProdT.pow(0.5) * modelOutput,
            var other => throw new NotSupportedException($"prediction_type '{other}' is not supported by DDPM."),
        };
        if (Config.Thresholding)
            predOriginal = DynamicThreshold.Apply(predOriginal, Config);
        else if (Config.ClipSample ?? true)
            predOriginal = predOriginal.clamp(-Config.ClipSampleRange, Config.ClipSampleRange);

        // Eq. 7: posterior mean μ̃_t(x_t, x̂_0).
        var predOriginalCoeff = alphaProdTPrev.pow(0.5) * currentBetaT / betaProdT;
        var currentSampleCoeff = currentAlphaT.pow(0.5) * betaProdTPrev / betaProdT;
        var prevSample = predOriginalCoeff * predOriginal + currentSampleCoeff * sample;

        if (t > 0)
        {
            var source = noise ?? throw new ArgumentNullException(nameof(noise), "DDPM draws noise on every step but the last; pass a noise source.");
            var z = source.Next(modelOutput.shape, modelOutput.dtype, modelOutput.device);
            var variance = VarianceType switch
            {
                "fixed_small_log" => Variance(t, predictedVariance) * z,
                "learned_range" => torch.exp(0.5 * Variance(t, predictedVariance)) * z,
                _ => Variance(t, predictedVariance).pow(0.5) * z,
            };
            prevSample = prevSample + variance;
        }

        return new SchedulerStepResult(prevSample.MoveToOuterDisposeScope(), predOriginal.MoveToOuterDisposeScope());
    }

    public Tensor AddNoise(Tensor originalSamples, Tensor noise, Tensor timesteps) =>
        NoiseSchedule.AddNoiseDiscrete(AlphasCumprod, originalSamples, noise, timesteps);

    /// <summary>Disposes the schedules and step state this scheduler holds.</summary>
    public void Dispose() => _owned.Dispose();
}
