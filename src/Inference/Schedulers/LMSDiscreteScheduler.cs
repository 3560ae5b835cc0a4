using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Schedulers;

/// <summary>
/// Linear multistep sampler in σ-space (k-diffusion's sample_lms; Karras et al. 2022 ODE),
/// diffusers' LMSDiscreteScheduler: x_{i+1} = x_i + Σ_j c_j d_{i-j}, where c_j integrates the
/// Lagrange basis polynomial through the previous σ's over [σ_i, σ_{i+1}].
/// </summary>
public sealed class LMSDiscreteScheduler : IScheduler
{
    private readonly OwnedTensors _owned = new();
    private readonly List<Tensor> _derivatives = [];
    private float[] _sigmaValues;
    private int? _stepIndex;

    public LMSDiscreteScheduler(SchedulerConfig config)
    {
        Config = config;
        AlphasCumprod = NoiseSchedule.FiniteAlphasCumprod(config, _owned);
        _sigmaValues = NoiseSchedule.TrainingSigmas(AlphasCumprod).Reverse().Append(0f).ToArray();
        Sigmas = torch.tensor(_sigmaValues, dtype: float32).OwnedBy(_owned);
        Timesteps = torch.empty(0, dtype: float32).OwnedBy(_owned);
        SetTimesteps(config.NumTrainTimesteps);
    }

    public string ClassName => nameof(LMSDiscreteScheduler);
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
        var trainSigmas = NoiseSchedule.TrainingSigmas(AlphasCumprod);
        var fp = trainSigmas.Select(s => (double)s).ToArray();
        var sigmas = timesteps.Select(t => NumpyCompat.Interp(t, fp)).ToArray();
        if (Config.UseKarrasSigmas)
        {
            var logSigmas = SigmaSchedule.Log(trainSigmas);
            sigmas = SigmaSchedule.Karras(Config, sigmas, numInferenceSteps);
            timesteps = sigmas.Select(s => SigmaSchedule.SigmaToT(s, logSigmas)).ToArray();
        }
        _sigmaValues = sigmas.Append(0.0).Select(s => (float)s).ToArray();
        Timesteps.Dispose();
        Sigmas.Dispose();
        Sigmas = torch.tensor(_sigmaValues, dtype: float32).OwnedBy(_owned);
        Timesteps = torch.tensor(timesteps.Select(t => (float)t).ToArray(), dtype: float32).OwnedBy(_owned);
        foreach (var d in _derivatives) d.Dispose();
        _derivatives.Clear();
        _stepIndex = null;
    }

    public Tensor ScaleModelInput(Tensor sample, Tensor timestep)
    {
        _stepIndex ??= SigmaSpace.IndexForTimestep(Timesteps, timestep);
        using var scope = torch.NewDisposeScope();
        var sigma = Sigmas[_stepIndex.Value];
        return (sample / (sigma.pow(2) + 1).pow(0.5)).MoveToOuterDisposeScope();
    }

    /// <summary>∫_{σ_t}^{σ_{t+1}} Π_{k≠j} (τ - σ_{t-k}) / (σ_{t-j} - σ_{t-k}) dτ (exact Gauss–Legendre: degree &lt; 4).</summary>
    private double LmsCoefficient(int order, int t, int currentOrder)
    {
        double Basis(double tau)
        {
            var prod = 1.0;
            for (var k = 0; k < order; k++)
            {
                if (k == currentOrder) continue;
                prod *= (tau - _sigmaValues[t - k]) / ((double)_sigmaValues[t - currentOrder] - _sigmaValues[t - k]);
            }
            return prod;
        }
        double a = _sigmaValues[t], b = _sigmaValues[t + 1];
        // 4-point Gauss–Legendre is exact for polynomials up to degree 7.
        ReadOnlySpan<double> nodes = [-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526];
        ReadOnlySpan<double> weights = [0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538];
        double half = (b - a) / 2, mid = (a + b) / 2, sum = 0;
        for (var i = 0; i < nodes.Length; i++)
            sum += weights[i] * Basis(mid + half * nodes[i]);
        return sum * half;
    }

    public SchedulerStepResult Step(Tensor modelOutput, Tensor timestep, Tensor sample, INoiseSource? noise = null, StepOptions? options = null)
    {
        const int maxOrder = 4;
        _stepIndex ??= SigmaSpace.IndexForTimestep(Timesteps, timestep);
        using var scope = torch.NewDisposeScope();
        var index = _stepIndex.Value;
        var sigma = Sigmas[index];

        var predOriginal = Config.PredictionType switch
        {
            "epsilon" => sample - sigma * modelOutput,
            "v_prediction" => modelOutput * (-sigma / (sigma.pow(2) + 1).pow(0.5)) + sample / (sigma.pow(2) + 1),
            "sample" => modelOutput,
            var other => throw new NotSupportedException($"prediction_type '{other}' is not supported by LMSDiscrete."),
        };

        // d = (x - x̂_0) / σ, the ODE derivative dx/dσ.
        var derivative = (sample - predOriginal) / sigma;
        _derivatives.Add(_owned.Add(NoiseSchedule.Keep(derivative)));
        if (_derivatives.Count > maxOrder)
        {
            _derivatives[0].Dispose();
            _derivatives.RemoveAt(0);
        }

        var order = Math.Min(index + 1, maxOrder);
        Tensor update = torch.zeros_like(sample);
        var first = true;
        for (var j = 0; j < order; j++)
        {
            var term = LmsCoefficient(order, index, j) * _derivatives[_derivatives.Count - 1 - j];
            update = first ? term : update + term;
            first = false;
        }
        var prevSample = sample + update;
        _stepIndex = index + 1;
        return new SchedulerStepResult(prevSample.MoveToOuterDisposeScope(), predOriginal.MoveToOuterDisposeScope());
    }

    public Tensor AddNoise(Tensor originalSamples, Tensor noise, Tensor timesteps) =>
        SigmaSpace.AddNoise(Sigmas, Timesteps, originalSamples, noise, timesteps);

    /// <summary>Disposes the schedules and step state this scheduler holds.</summary>
    public void Dispose() => _owned.Dispose();
}
