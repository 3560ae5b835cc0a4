using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Schedulers;

/// <summary>
/// Latent Consistency Models (Luo et al. 2023), diffusers' LCMScheduler: the consistency function
/// f(x, t) = c_skip(t) x + c_out(t) x̂_0 (eq. 9 of Song et al. 2023, "Consistency Models"),
/// then re-noising to the next timestep (multistep sampling, Algorithm 1).
/// </summary>
public sealed class LCMScheduler : IScheduler
{
    private readonly OwnedTensors _owned = new();
    private const double SigmaData = 0.5;
    private readonly Tensor _finalAlphaCumprod;
    private int? _stepIndex;
    private int? _numInferenceSteps;

    public LCMScheduler(SchedulerConfig config)
    {
        Config = config;
        (_, AlphasCumprod) = NoiseSchedule.Build(config, _owned);
        _finalAlphaCumprod = (config.SetAlphaToOne ?? true)
            ? torch.tensor(1.0f).OwnedBy(_owned)
            : AlphasCumprod[0].clone().OwnedBy(_owned);
        Timesteps = torch.arange(config.NumTrainTimesteps - 1, -1, -1, dtype: int64).OwnedBy(_owned);
    }

    public string ClassName => nameof(LCMScheduler);
    public SchedulerConfig Config { get; }
    public int Order => 1;
    public Tensor AlphasCumprod { get; }
    public Tensor Timesteps { get; private set; }
    public Tensor? Sigmas => null;
    public double InitNoiseSigma => 1.0;

    public void SetTimesteps(int numInferenceSteps)
    {
        var train = Config.NumTrainTimesteps;
        var original = Config.OriginalInferenceSteps;
        if (original > train)
            throw new InvalidOperationException($"original_inference_steps {original} exceeds num_train_timesteps {train}.");
        if (numInferenceSteps < 1 || numInferenceSteps > original)
            throw new ArgumentOutOfRangeException(nameof(numInferenceSteps), $"LCM supports 1..{original} (original_inference_steps) steps.");
        // The distillation schedule t = k·i - 1 (k = T / original steps), then evenly spaced indices into it.
        var k = train / original;
        var origin = Enumerable.Range(1, original).Select(i => (long)i * k - 1).Reverse().ToArray();
        var indices = NumpyCompat.Linspace(0, origin.Length, numInferenceSteps, endpoint: false).Select(v => (int)Math.Floor(v));
        Timesteps.Dispose();
        Timesteps = torch.tensor(indices.Select(i => origin[i]).ToArray(), dtype: int64).OwnedBy(_owned);
        _numInferenceSteps = numInferenceSteps;
        _stepIndex = null;
    }

    public Tensor ScaleModelInput(Tensor sample, Tensor timestep) => sample;

    public SchedulerStepResult Step(Tensor modelOutput, Tensor timestep, Tensor sample, INoiseSource? noise = null, StepOptions? options = null)
    {
        if (_numInferenceSteps is not { } steps)
            throw new InvalidOperationException("Call SetTimesteps before Step.");
        _stepIndex ??= SigmaSpace.IndexForTimestep(Timesteps, timestep);
        using var scope = torch.NewDisposeScope();
        var index = _stepIndex.Value;
        var t = timestep.item<long>();
        var prevT = index + 1 < Timesteps.shape[0] ? Timesteps[index + 1].item<long>() : t;

        var alphaProdT = AlphasCumprod[t];
        var alphaProdTPrev = prevT >= 0 ? AlphasCumprod[prevT] : _finalAlphaCumprod;
        var betaProdT = 1 - alphaProdT;
        var betaProdTPrev = 1 - alphaProdTPrev;

        // Boundary-condition scalings (Consistency Models, §3 / LCM eq. 6) at t·timestep_scaling.
        var scaled = timestep.to(int64).cpu() * Config.TimestepScaling;
        var cSkip = SigmaData * SigmaData / (scaled.pow(2) + SigmaData * SigmaData);
        var cOut = scaled / (scaled.pow(2) + SigmaData * SigmaData).pow(0.5);

        var predOriginal = Config.PredictionType switch
        {
            "epsilon" => (sample - betaProdT.sqrt() * modelOutput) / alphaProdT.sqrt(),
            "sample" => modelOutput,
            "v_prediction" => alphaProdT.sqrt() * sample - betaProdT.sqrt() * modelOutput,
            var other => throw new NotSupportedException($"prediction_type '{other}' is not supported by LCM."),
        };
        if (Config.Thresholding)
            predOriginal = DynamicThreshold.Apply(predOriginal, Config);
        else if (Config.ClipSample ?? false)
            predOriginal = predOriginal.clamp(-Config.ClipSampleRange, Config.ClipSampleRange);

        var denoised = cOut * predOriginal + cSkip * sample;
        Tensor prevSample;
        if (index != steps - 1)
        {
            var source = noise ?? throw new ArgumentNullException(nameof(noise), "LCM re-noises between steps; pass a noise source.");
            var z = source.Next(modelOutput.shape, denoised.dtype, modelOutput.device);
            prevSample = alphaProdTPrev.sqrt() * denoised + betaProdTPrev.sqrt() * z;
        }
        else
        {
            prevSample = denoised;
        }
        _stepIndex = index + 1;
        return new SchedulerStepResult(prevSample.MoveToOuterDisposeScope(), denoised.MoveToOuterDisposeScope());
    }

    public Tensor AddNoise(Tensor originalSamples, Tensor noise, Tensor timesteps) =>
        NoiseSchedule.AddNoiseDiscrete(AlphasCumprod, originalSamples, noise, timesteps);

    /// <summary>Disposes the schedules and step state this scheduler holds.</summary>
    public void Dispose() => _owned.Dispose();
}
