using Easel.Inference.Schedulers;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Schedulers;

/// <summary>
/// A v-prediction model trained on a zero-terminal-SNR schedule (Lin et al. 2024), as the bundled shapes model is:
/// every scheduler a request can name must sample it from pure noise without an infinite σ or ᾱ ratio.
/// </summary>
public sealed class ZeroTerminalSnrTests
{
    private static readonly SchedulerConfig ZeroSnrVPrediction = SchedulerConfig.Parse("""
        {"_class_name": "DDIMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085,
         "clip_sample": false, "num_train_timesteps": 1000, "prediction_type": "v_prediction", "set_alpha_to_one": false,
         "steps_offset": 0, "timestep_spacing": "trailing", "rescale_betas_zero_snr": true}
        """);

    public static TheoryData<string> SchedulerNames() => [.. SchedulerRegistry.Names];

    [Fact]
    public void RescaledScheduleEndsAtZeroSnr()
    {
        var scheduler = SchedulerRegistry.Create("ddim", ZeroSnrVPrediction);
        Assert.Equal(0f, scheduler.AlphasCumprod[-1].item<float>(), 1e-9f);
        Assert.Equal(999L, scheduler.Timesteps[0].item<long>());
    }

    /// <summary>
    /// With the data a single point x₀, the exact v-prediction is known at every step, so an exact sampler must end at
    /// x₀ from any starting noise (up to the √(1−ᾱ₀) ≈ 0.03 of noise that DDIM and PNDM keep when set_alpha_to_one is
    /// false); an infinite σ_T would give NaN instead.
    /// </summary>
    [Theory]
    [MemberData(nameof(SchedulerNames))]
    public void EverySchedulerSamplesAPointDistributionFromPureNoise(string name)
    {
        using var scope = torch.NewDisposeScope();
        var scheduler = SchedulerRegistry.Create(name, ZeroSnrVPrediction);
        scheduler.SetTimesteps(20);
        var noise = GeneratorNoiseSource.FromSeed(7);
        var target = torch.linspace(-1.5, 1.5, 2 * 4 * 4).view(1, 2, 4, 4);
        var sample = noise.Next([1, 2, 4, 4], float32, CPU) * scheduler.InitNoiseSigma;
        foreach (var t in scheduler.Timesteps.split(1))
        {
            var modelInput = scheduler.ScaleModelInput(sample, t);
            sample = scheduler.Step(ExactVelocity(scheduler, modelInput, t, target), t, sample, noise).PrevSample;
            Assert.False(sample.isnan().any().item<bool>() || sample.isinf().any().item<bool>(), $"{name}: non-finite sample at t={TimestepOf(t)}");
        }
        Assert.True(torch.allclose(sample, target, rtol: 0, atol: 0.1), $"{name}: max error {(sample - target).abs().max().item<float>()}");
    }

    private static double TimestepOf(Tensor t) => t.to_type(float64).item<double>();

    /// <summary>v = √ᾱ_t ε − √(1−ᾱ_t) x₀ with ε read off the (scaled) model input x_t = √ᾱ_t x₀ + √(1−ᾱ_t) ε.</summary>
    private static Tensor ExactVelocity(IScheduler scheduler, Tensor modelInput, Tensor t, Tensor target)
    {
        var alphaBar = scheduler.AlphasCumprod[(long)Math.Round(TimestepOf(t))].item<float>();
        var (signal, noiseScale) = (MathF.Sqrt(alphaBar), MathF.Sqrt(1 - alphaBar));
        var epsilon = (modelInput - signal * target) / noiseScale;
        return signal * epsilon - noiseScale * target;
    }
}
