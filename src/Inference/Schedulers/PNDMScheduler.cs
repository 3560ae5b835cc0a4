using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Schedulers;

/// <summary>
/// Pseudo Numerical methods for Diffusion Models (Liu, Ren, Lin, Zhao 2022), diffusers'
/// PNDMScheduler. Only the PLMS path (skip_prk_steps, as every Stable Diffusion config sets it):
/// linear multistep on ε (eq. 12) with the transfer φ of eq. 11.
/// </summary>
public sealed class PNDMScheduler : IScheduler
{
    private readonly OwnedTensors _owned = new();
    private readonly Tensor _finalAlphaCumprod;
    private readonly List<Tensor> _ets = [];
    private int _counter;
    private Tensor? _curSample;
    private int? _numInferenceSteps;

    public PNDMScheduler(SchedulerConfig config)
    {
        if (!config.SkipPrkSteps)
            throw new NotSupportedException("PNDMScheduler is implemented with skip_prk_steps=true (PLMS) only.");
        Config = config;
        AlphasCumprod = NoiseSchedule.FiniteAlphasCumprod(config, _owned);
        _finalAlphaCumprod = (config.SetAlphaToOne ?? false)
            ? torch.tensor(1.0f).OwnedBy(_owned)
            : AlphasCumprod[0].clone().OwnedBy(_owned);
        Timesteps = torch.arange(config.NumTrainTimesteps - 1, -1, -1, dtype: int64).OwnedBy(_owned);
    }

    public string ClassName => nameof(PNDMScheduler);
    public SchedulerConfig Config { get; }
    public int Order => 1;
    public Tensor AlphasCumprod { get; }
    public Tensor Timesteps { get; private set; }
    public Tensor? Sigmas => null;
    public double InitNoiseSigma => 1.0;

    public void SetTimesteps(int numInferenceSteps)
    {
        var n = Config.NumTrainTimesteps;
        if (numInferenceSteps < 1 || numInferenceSteps > n)
            throw new ArgumentOutOfRangeException(nameof(numInferenceSteps), $"Must be in 1..{n} (num_train_timesteps).");
        _numInferenceSteps = numInferenceSteps;
        // Ascending base schedule, then the PLMS order: the second-to-last base step is visited twice.
        var ascending = DDIMScheduler.DiscreteTimesteps(Config.TimestepSpacing ?? "leading", n, numInferenceSteps, Config.StepsOffset).Reverse().ToArray();
        var plms = ascending[..^1].Concat(ascending[^2..^1]).Concat(ascending[^1..]).Reverse().ToArray();
        Timesteps.Dispose();
        Timesteps = torch.tensor(plms, dtype: int64).OwnedBy(_owned);
        foreach (var e in _ets) e.Dispose();
        _ets.Clear();
        _curSample?.Dispose();
        _curSample = null;
        _counter = 0;
    }

    public Tensor ScaleModelInput(Tensor sample, Tensor timestep) => sample;

    public SchedulerStepResult Step(Tensor modelOutput, Tensor timestep, Tensor sample, INoiseSource? noise = null, StepOptions? options = null)
    {
        if (_numInferenceSteps is not { } steps)
            throw new InvalidOperationException("Call SetTimesteps before Step.");
        using var scope = torch.NewDisposeScope();
        var stride = Config.NumTrainTimesteps / steps;
        var t = timestep.item<long>();
        var prevT = t - stride;

        if (_counter != 1)
        {
            while (_ets.Count > 3) { _ets[0].Dispose(); _ets.RemoveAt(0); }
            _ets.Add(_owned.Add(NoiseSchedule.Keep(modelOutput)));
        }
        else
        {
            // The repeated step: finish the 2nd-order (Heun-like) step started one call earlier.
            prevT = t;
            t += stride;
        }

        Tensor eps;
        if (_ets.Count == 1 && _counter == 0)
        {
            eps = modelOutput;
            _curSample = _owned.Add(NoiseSchedule.Keep(sample));
        }
        else if (_ets.Count == 1 && _counter == 1)
        {
            eps = (modelOutput + _ets[^1]) / 2;
            sample = _curSample!.clone();
            _curSample.Dispose();
            _curSample = null;
        }
        else if (_ets.Count == 2)
        {
            eps = (3 * _ets[^1] - _ets[^2]) / 2;
        }
        else if (_ets.Count == 3)
        {
            eps = (23 * _ets[^1] - 16 * _ets[^2] + 5 * _ets[^3]) / 12;
        }
        else
        {
            // Eq. 12: 4th-order Adams–Bashforth combination of the last four ε's.
            eps = (1.0 / 24) * (55 * _ets[^1] - 59 * _ets[^2] + 37 * _ets[^3] - 9 * _ets[^4]);
        }

        var prevSample = PrevSample(sample, t, prevT, eps);
        _counter++;
        return new SchedulerStepResult(prevSample.MoveToOuterDisposeScope(), null);
    }

    /// <summary>The transfer φ(x_t, ε, t, t-δ) of eq. 11 (a DDIM step written without x̂_0).</summary>
    private Tensor PrevSample(Tensor sample, long t, long prevT, Tensor modelOutput)
    {
        var alphaProdT = AlphasCumprod[t];
        var alphaProdTPrev = prevT >= 0 ? AlphasCumprod[prevT] : _finalAlphaCumprod;
        var betaProdT = 1 - alphaProdT;
        var betaProdTPrev = 1 - alphaProdTPrev;
        if (Config.PredictionType == "v_prediction")
            modelOutput = alphaProdT.pow(0.5) * modelOutput + betaProdT.pow(0.5) * sample;
        else if (Config.PredictionType != "epsilon")
            throw new NotSupportedException($"prediction_type '{Config.PredictionType}' is not supported by PNDM.");

        var sampleCoeff = (alphaProdTPrev / alphaProdT).pow(0.5);
        var denom = alphaProdT * betaProdTPrev.pow(0.5) + (alphaProdT * betaProdT * alphaProdTPrev).pow(0.5);
        return sampleCoeff * sample - (alphaProdTPrev - alphaProdT) * modelOutput / denom;
    }

    public Tensor AddNoise(Tensor originalSamples, Tensor noise, Tensor timesteps) =>
        NoiseSchedule.AddNoiseDiscrete(AlphasCumprod, originalSamples, noise, timesteps);

    /// <summary>Disposes the schedules and step state this scheduler holds.</summary>
    public void Dispose() => _owned.Dispose();
}
