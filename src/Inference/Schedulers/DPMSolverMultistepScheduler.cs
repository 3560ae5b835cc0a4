using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Schedulers;

/// <summary>
/// DPM-Solver++ multistep (Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of
/// Diffusion Probabilistic Models"), diffusers' DPMSolverMultistepScheduler with
/// algorithm_type "dpmsolver++" and solver_order 1 or 2 (A1111's "DPM++ 2M"; "Karras" = the
/// Karras et al. 2022 σ schedule). First order is eq. 5 (DDIM in data prediction); second order is
/// Algorithm 2 (multistep, midpoint or heun variant).
/// </summary>
public sealed class DPMSolverMultistepScheduler : IScheduler
{
    private readonly OwnedTensors _owned = new();
    private readonly Tensor?[] _modelOutputs;
    private int _lowerOrderNums;
    private int? _stepIndex;

    public DPMSolverMultistepScheduler(SchedulerConfig config)
    {
        if (config.AlgorithmType != "dpmsolver++")
            throw new NotSupportedException($"DPMSolverMultistepScheduler: algorithm_type '{config.AlgorithmType}' is not implemented (dpmsolver++ only).");
        if (config.SolverOrder is < 1 or > 2)
            throw new NotSupportedException($"DPMSolverMultistepScheduler: solver_order {config.SolverOrder} is not implemented (1 or 2).");
        if (config.UseLuLambdas)
            throw new NotSupportedException("DPMSolverMultistepScheduler: use_lu_lambdas is not implemented.");
        Config = config;
        AlphasCumprod = NoiseSchedule.FiniteAlphasCumprod(config, _owned);
        using (var scope = torch.NewDisposeScope())
        {
            // λ_t = log α_t - log σ_t (half log-SNR), used to clip the end of the schedule.
            var lambda = torch.log(torch.sqrt(AlphasCumprod)) - torch.log(torch.sqrt(1 - AlphasCumprod));
            _lambdaT = lambda.OwnedBy(_owned);
            Sigmas = ((1 - AlphasCumprod) / AlphasCumprod).pow(0.5).OwnedBy(_owned);
        }
        var train = config.NumTrainTimesteps;
        Timesteps = torch.tensor(NumpyCompat.Reverse(NumpyCompat.Linspace(0, train - 1, train)).Select(v => (float)v).ToArray(), dtype: float32)
            .OwnedBy(_owned);
        _modelOutputs = new Tensor?[config.SolverOrder];
    }

    private readonly Tensor _lambdaT;

    public string ClassName => nameof(DPMSolverMultistepScheduler);
    public SchedulerConfig Config { get; }
    public int Order => 1;
    public Tensor AlphasCumprod { get; }
    public Tensor Timesteps { get; private set; }
    public Tensor Sigmas { get; private set; }
    Tensor? IScheduler.Sigmas => Sigmas;
    public double InitNoiseSigma => 1.0;

    private string FinalSigmasType => Config.FinalSigmasType ?? "zero";

    public void SetTimesteps(int numInferenceSteps)
    {
        var train = Config.NumTrainTimesteps;
        if (numInferenceSteps < 1 || numInferenceSteps > train)
            throw new ArgumentOutOfRangeException(nameof(numInferenceSteps), $"Must be in 1..{train} (num_train_timesteps).");

        // Drop the timesteps whose λ is below lambda_min_clipped (numerical stability, cosine schedules).
        long clippedIdx;
        using (var flipped = _lambdaT.flip(0))
        using (var bound = torch.tensor((float)Config.LambdaMinClipped))
        using (var found = torch.searchsorted(flipped, bound))
            clippedIdx = found.item<long>();
        var lastTimestep = train - clippedIdx;

        double[] timesteps = (Config.TimestepSpacing ?? "linspace") switch
        {
            "linspace" => NumpyCompat.Reverse(NumpyCompat.Linspace(0, lastTimestep - 1, numInferenceSteps + 1).Select(NumpyCompat.Round).ToArray())[..^1],
            "leading" => Enumerable.Range(0, numInferenceSteps + 1).Select(i => (double)(i * (lastTimestep / (numInferenceSteps + 1)))).Reverse().SkipLast(1)
                .Select(v => v + Config.StepsOffset).ToArray(),
            "trailing" => NumpyCompat.Arange(lastTimestep, 0, -(train / (double)numInferenceSteps)).Select(v => NumpyCompat.Round(v) - 1).ToArray(),
            var other => throw new NotSupportedException($"timestep_spacing '{other}' is not supported (leading, trailing, linspace)."),
        };

        var trainSigmas = NoiseSchedule.TrainingSigmas(AlphasCumprod);
        var logSigmas = SigmaSchedule.Log(trainSigmas);
        double[] sigmas;
        if (Config.UseKarrasSigmas)
        {
            var descending = trainSigmas.Reverse().Select(s => (double)s).ToArray();
            sigmas = SigmaSchedule.Karras(Config, descending, numInferenceSteps);
            timesteps = sigmas.Select(s => NumpyCompat.Round(SigmaSchedule.SigmaToT(s, logSigmas))).ToArray();
        }
        else
        {
            var fp = trainSigmas.Select(s => (double)s).ToArray();
            sigmas = timesteps.Select(t => NumpyCompat.Interp(t, fp)).ToArray();
        }
        // The σ after the last step: 0 (a final x̂_0 step) or the smallest training σ.
        var sigmaLast = FinalSigmasType switch
        {
            "zero" => 0.0,
            "sigma_min" => trainSigmas[0],
            var other => throw new NotSupportedException($"final_sigmas_type '{other}' is not supported (zero, sigma_min)."),
        };
        var sigmas32 = sigmas.Append(sigmaLast).Select(s => (float)s).ToArray();

        Timesteps.Dispose();
        Sigmas.Dispose();
        Sigmas = torch.tensor(sigmas32, dtype: float32).OwnedBy(_owned);
        Timesteps = torch.tensor(timesteps.Select(t => (long)t).ToArray(), dtype: int64).OwnedBy(_owned);
        ResetHistory();
    }

    private void ResetHistory()
    {
        for (var i = 0; i < _modelOutputs.Length; i++)
        {
            _modelOutputs[i]?.Dispose();
            _modelOutputs[i] = null;
        }
        _lowerOrderNums = 0;
        _stepIndex = null;
    }

    public Tensor ScaleModelInput(Tensor sample, Tensor timestep) => sample;

    /// <summary>α_t = 1/√(σ²+1), σ_t = σ α_t: the VP coefficients of a σ-space value.</summary>
    private static (Tensor Alpha, Tensor Sigma) AlphaSigma(Tensor sigma)
    {
        var alpha = 1 / (sigma.pow(2) + 1).pow(0.5);
        return (alpha, sigma * alpha);
    }

    /// <summary>Data prediction x̂_0 (DPM-Solver++ works in x_0 space).</summary>
    private Tensor ConvertModelOutput(Tensor modelOutput, Tensor sample, int index)
    {
        var (alphaT, sigmaT) = AlphaSigma(Sigmas[index]);
        var x0 = Config.PredictionType switch
        {
            "epsilon" => (sample - sigmaT * (Config.VarianceType is "learned" or "learned_range" ? modelOutput[.., ..3] : modelOutput)) / alphaT,
            "sample" => modelOutput,
            "v_prediction" => alphaT * sample - sigmaT * modelOutput,
            var other => throw new NotSupportedException($"prediction_type '{other}' is not supported by DPMSolverMultistep."),
        };
        return Config.Thresholding ? DynamicThreshold.Apply(x0, Config) : x0;
    }

    public SchedulerStepResult Step(Tensor modelOutput, Tensor timestep, Tensor sample, INoiseSource? noise = null, StepOptions? options = null)
    {
        _stepIndex ??= SigmaSpace.IndexForTimestep(Timesteps, timestep, lastWhenMissing: true);
        using var scope = torch.NewDisposeScope();
        var index = _stepIndex.Value;
        var count = (int)Timesteps.shape[0];

        var lowerOrderFinal = index == count - 1
            && (Config.EulerAtFinal || (Config.LowerOrderFinal && count < 15) || FinalSigmasType == "zero");
        var lowerOrderSecond = index == count - 2 && Config.LowerOrderFinal && count < 15;

        var x0 = ConvertModelOutput(modelOutput, sample, index);
        _modelOutputs[0]?.Dispose();
        for (var i = 0; i < _modelOutputs.Length - 1; i++)
            _modelOutputs[i] = _modelOutputs[i + 1];
        _modelOutputs[^1] = _owned.Add(NoiseSchedule.Keep(x0));

        Tensor prevSample;
        if (Config.SolverOrder == 1 || _lowerOrderNums < 1 || lowerOrderFinal)
            prevSample = FirstOrderUpdate(x0, sample, index);
        else
            prevSample = SecondOrderUpdate(sample, index);
        _ = lowerOrderSecond; // only changes the choice between orders 2 and 3; order 3 is not implemented.

        if (_lowerOrderNums < Config.SolverOrder)
            _lowerOrderNums++;
        _stepIndex = index + 1;
        return new SchedulerStepResult(prevSample.MoveToOuterDisposeScope(), x0.MoveToOuterDisposeScope());
    }

    /// <summary>DPM-Solver++(1), eq. 5: x_t = (σ_t/σ_s) x_s - α_t (e^{-h} - 1) x̂_0.</summary>
    private Tensor FirstOrderUpdate(Tensor x0, Tensor sample, int index)
    {
        var (alphaT, sigmaT) = AlphaSigma(Sigmas[index + 1]);
        var (alphaS, sigmaS) = AlphaSigma(Sigmas[index]);
        var lambdaT = torch.log(alphaT) - torch.log(sigmaT);
        var lambdaS = torch.log(alphaS) - torch.log(sigmaS);
        var h = lambdaT - lambdaS;
        return sigmaT / sigmaS * sample - alphaT * (torch.exp(-h) - 1.0) * x0;
    }

    /// <summary>Multistep DPM-Solver++(2M), Algorithm 2 of the paper (midpoint or heun correction).</summary>
    private Tensor SecondOrderUpdate(Tensor sample, int index)
    {
        var (alphaT, sigmaT) = AlphaSigma(Sigmas[index + 1]);
        var (alphaS0, sigmaS0) = AlphaSigma(Sigmas[index]);
        var (alphaS1, sigmaS1) = AlphaSigma(Sigmas[index - 1]);
        var lambdaT = torch.log(alphaT) - torch.log(sigmaT);
        var lambdaS0 = torch.log(alphaS0) - torch.log(sigmaS0);
        var lambdaS1 = torch.log(alphaS1) - torch.log(sigmaS1);
        var m0 = _modelOutputs[^1]!;
        var m1 = _modelOutputs[^2]!;
        var h = lambdaT - lambdaS0;
        var h0 = lambdaS0 - lambdaS1;
        var r0 = h0 / h;
        var d0 = m0;
        var d1 = 1.0 / r0 * (m0 - m1);
        return Config.SolverType switch
        {
            "midpoint" => sigmaT / sigmaS0 * sample - alphaT * (torch.exp(-h) - 1.0) * d0 - 0.5 * (alphaT * (torch.exp(-h) - 1.0)) * d1,
            "heun" => sigmaT / sigmaS0 * sample - alphaT * (torch.exp(-h) - 1.0) * d0 + alphaT * ((torch.exp(-h) - 1.0) / h + 1.0) * d1,
            var other => throw new NotSupportedException($"solver_type '{other}' is not supported (midpoint, heun)."),
        };
    }

    /// <summary>x_t = α_t x_0 + σ_t ε with the σ of each timestep in the inference schedule.</summary>
    public Tensor AddNoise(Tensor originalSamples, Tensor noise, Tensor timesteps)
    {
        using var scope = torch.NewDisposeScope();
        var indices = Enumerable.Range(0, (int)timesteps.shape[0])
            .Select(i => (long)SigmaSpace.IndexForTimestep(Timesteps, timesteps[i], lastWhenMissing: true)).ToArray();
        var sigma = NoiseSchedule.Expand(Sigmas.to(originalSamples.dtype, originalSamples.device)[torch.tensor(indices, device: originalSamples.device)].flatten(), originalSamples.dim());
        var (alphaT, sigmaT) = AlphaSigma(sigma);
        return (alphaT * originalSamples + sigmaT * noise).MoveToOuterDisposeScope();
    }

    /// <summary>Disposes the schedules and step state this scheduler holds.</summary>
    public void Dispose() => _owned.Dispose();
}
