using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Schedulers;

/// <summary>
/// Denoising Diffusion Implicit Models (Song, Meng, Ermon 2021), diffusers' DDIMScheduler.
/// Step: eq. 12 of the paper with σ_t(η) from eq. 16.
/// </summary>
public sealed class DDIMScheduler : IScheduler
{
    private readonly OwnedTensors _owned = new();
    private readonly Tensor _finalAlphaCumprod;
    private int? _numInferenceSteps;

    public DDIMScheduler(SchedulerConfig config)
    {
        Config = config;
        (_, AlphasCumprod) = NoiseSchedule.Build(config, _owned);
        // At the last step there is no previous ᾱ: use 1 (set_alpha_to_one) or ᾱ_0.
        _finalAlphaCumprod = (config.SetAlphaToOne ?? true)
            ? torch.tensor(1.0f).OwnedBy(_owned)
            : AlphasCumprod[0].clone().OwnedBy(_owned);
        Timesteps = torch.arange(config.NumTrainTimesteps - 1, -1, -1, dtype: int64).OwnedBy(_owned);
    }

    public string ClassName => nameof(DDIMScheduler);
    public SchedulerConfig Config { get; }
    public int Order => 1;
    public Tensor AlphasCumprod { get; }
    public Tensor Timesteps { get; private set; }
    public Tensor? Sigmas => null;
    public double InitNoiseSigma => 1.0;

    private string Spacing => Config.TimestepSpacing ?? "leading";

    public void SetTimesteps(int numInferenceSteps)
    {
        var n = Config.NumTrainTimesteps;
        if (numInferenceSteps < 1 || numInferenceSteps > n)
            throw new ArgumentOutOfRangeException(nameof(numInferenceSteps), $"Must be in 1..{n} (num_train_timesteps).");
        _numInferenceSteps = numInferenceSteps;
        Timesteps.Dispose();
        Timesteps = torch.tensor(DiscreteTimesteps(Spacing, n, numInferenceSteps, Config.StepsOffset), dtype: int64).OwnedBy(_owned);
    }

    /// <summary>The leading / trailing / linspace integer schedules of DDIM, DDPM and LCM-style schedulers (descending).</summary>
    internal static long[] DiscreteTimesteps(string spacing, int numTrain, int numSteps, int stepsOffset)
    {
        switch (spacing)
        {
            case "linspace":
                return NumpyCompat.Linspace(0, numTrain - 1, numSteps).Select(NumpyCompat.Round).Reverse().Select(v => (long)v).ToArray();
            case "leading":
            {
                var ratio = numTrain / numSteps;
                return Enumerable.Range(0, numSteps).Select(i => (long)i * ratio + stepsOffset).Reverse().ToArray();
            }
            case "trailing":
            {
                var ratio = numTrain / (double)numSteps;
                return NumpyCompat.Arange(numTrain, 0, -ratio).Select(v => (long)NumpyCompat.Round(v) - 1).ToArray();
            }
            default:
                throw new NotSupportedException($"timestep_spacing '{spacing}' is not supported (leading, trailing, linspace).");
        }
    }

    public Tensor ScaleModelInput(Tensor sample, Tensor timestep) => sample;

    public SchedulerStepResult Step(Tensor modelOutput, Tensor timestep, Tensor sample, INoiseSource? noise = null, StepOptions? options = null)
    {
        if (_numInferenceSteps is not { } steps)
            throw new InvalidOperationException("Call SetTimesteps before Step.");
        options ??= StepOptions.Default;
        using var scope = torch.NewDisposeScope();

        var t = timestep.item<long>();
        var prevT = t - Config.NumTrainTimesteps / steps;
        var alphaProdT = AlphasCumprod[t];
        var alphaProdTPrev = prevT >= 0 ? AlphasCumprod[prevT] : _finalAlphaCumprod;
        var betaProdT = 1 - alphaProdT;

        // x_0 and ε predicted from the model output (eq. 12, "predicted x_0" term).
        Tensor predOriginal, predEpsilon;
        switch (Config.PredictionType)
        {
            case "epsilon":
                predOriginal = (sample - betaProdT.pow(0.5) * modelOutput) / alphaProdT.pow(0.5);
                predEpsilon = modelOutput;
                break;
            case "sample":
                predOriginal = modelOutput;
                predEpsilon = (sample - alphaProdT.pow(0.5) * predOriginal) / betaProdT.pow(0.5);
                break;
            case "v_prediction":
                // Salimans & Ho 2022, v = √ᾱ ε - √(1-ᾱ) x_0.
                predOriginal = alphaProdT.pow(0.5) * sample - betaProdT.pow(0.5) * modelOutput;
                predEpsilon = alphaProdT.pow(0.5) * modelOutput + betaProdT.pow(0.5) * sample;
                break;
            default:
                throw new NotSupportedException($"prediction_type '{Config.PredictionType}' is not supported by DDIM.");
        }

        if (Config.Thresholding)
            predOriginal = DynamicThreshold.Apply(predOriginal, Config);
        else if (Config.ClipSample ?? true)
            predOriginal = predOriginal.clamp(-Config.ClipSampleRange, Config.ClipSampleRange);

        // σ_t(η)² = η² (1-ᾱ_{t-1})/(1-ᾱ_t) (1 - ᾱ_t/ᾱ_{t-1})  (eq. 16).
        var betaProdTPrev = 1 - alphaProdTPrev;
        var variance = betaProdTPrev / betaProdT * (1 - alphaProdT / alphaProdTPrev);
        var stdDevT = options.Eta * variance.pow(0.5);

        if (options.UseClippedModelOutput)
            predEpsilon = (sample - alphaProdT.pow(0.5) * predOriginal) / betaProdT.pow(0.5);

        // Eq. 12: x_{t-1} = √ᾱ_{t-1} x̂_0 + √(1-ᾱ_{t-1}-σ_t²) ε̂ + σ_t z.
        var direction = (1 - alphaProdTPrev - stdDevT.pow(2)).pow(0.5) * predEpsilon;
        var prevSample = alphaProdTPrev.pow(0.5) * predOriginal + direction;

        if (options.Eta > 0)
        {
            var source = noise ?? throw new ArgumentNullException(nameof(noise), "DDIM with eta > 0 needs a noise source.");
            var z = source.Next(modelOutput.shape, modelOutput.dtype, modelOutput.device);
            prevSample = prevSample + stdDevT * z;
        }

        return new SchedulerStepResult(prevSample.MoveToOuterDisposeScope(), predOriginal.MoveToOuterDisposeScope());
    }

    public Tensor AddNoise(Tensor originalSamples, Tensor noise, Tensor timesteps) =>
        NoiseSchedule.AddNoiseDiscrete(AlphasCumprod, originalSamples, noise, timesteps);

    /// <summary>Disposes the schedules and step state this scheduler holds.</summary>
    public void Dispose() => _owned.Dispose();
}
