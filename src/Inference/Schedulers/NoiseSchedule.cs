using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Schedulers;

/// <summary>
/// β / ᾱ schedules shared by the discrete-time schedulers, computed with the same float32 torch
/// ops as diffusers so that ᾱ_t matches bit for bit.
/// </summary>
internal static class NoiseSchedule
{
    /// <summary>β_1..β_T from the config (float32).</summary>
    public static Tensor Betas(SchedulerConfig config)
    {
        var n = config.NumTrainTimesteps;
        if (config.TrainedBetas is { } trained)
            return torch.tensor(trained.Select(b => (float)b).ToArray(), dtype: float32);
        return config.BetaSchedule switch
        {
            "linear" => torch.linspace(config.BetaStart, config.BetaEnd, n, dtype: float32),
            // The schedule of the LDM / Stable Diffusion training code.
            "scaled_linear" => torch.linspace(Math.Sqrt(config.BetaStart), Math.Sqrt(config.BetaEnd), n, dtype: float32).pow(2),
            // Nichol & Dhariwal 2021, eq. 17 (cosine ᾱ), β capped at 0.999.
            "squaredcos_cap_v2" => torch.tensor(CosineBetas(n, 0.999), dtype: float32),
            var other => throw new NotSupportedException($"beta_schedule '{other}' is not supported (linear, scaled_linear, squaredcos_cap_v2)."),
        };
    }

    private static float[] CosineBetas(int n, double maxBeta)
    {
        static double AlphaBar(double t) => Math.Pow(Math.Cos((t + 0.008) / 1.008 * Math.PI / 2), 2);
        var betas = new float[n];
        for (var i = 0; i < n; i++)
        {
            double t1 = (double)i / n, t2 = (double)(i + 1) / n;
            betas[i] = (float)Math.Min(1 - AlphaBar(t2) / AlphaBar(t1), maxBeta);
        }
        return betas;
    }

    /// <summary>
    /// Lin et al. 2024, "Common Diffusion Noise Schedules and Sample Steps are Flawed", Algorithm 1:
    /// shift and scale √ᾱ so the last timestep has zero SNR.
    /// </summary>
    public static Tensor RescaleZeroTerminalSnr(Tensor betas)
    {
        using var scope = torch.NewDisposeScope();
        var alphasBarSqrt = torch.cumprod(1.0 - betas, 0).sqrt();
        var first = alphasBarSqrt[0].clone();
        var last = alphasBarSqrt[-1].clone();
        alphasBarSqrt = (alphasBarSqrt - last) * (first / (first - last));
        var alphasBar = alphasBarSqrt.pow(2);
        var alphas = torch.cat([alphasBar[..1], alphasBar[1..] / alphasBar[..^1]]);
        return (1.0 - alphas).MoveToOuterDisposeScope();
    }

    /// <summary>β (rescaled for zero terminal SNR when configured), then ᾱ_t = Π(1 - β_s), all float32.</summary>
    public static (Tensor Betas, Tensor AlphasCumprod) Build(SchedulerConfig config, OwnedTensors owner)
    {
        using var scope = torch.NewDisposeScope();
        var betas = Betas(config);
        if (config.RescaleBetasZeroSnr)
            betas = RescaleZeroTerminalSnr(betas);
        var alphasCumprod = torch.cumprod(1.0 - betas, 0);
        return (owner.Add(betas), owner.Add(alphasCumprod));
    }

    /// <summary>
    /// ᾱ as <see cref="Build"/> gives it, except that a zero-terminal-SNR schedule's last ᾱ (exactly 0) becomes 2⁻²⁴,
    /// as diffusers' σ-space schedulers do: σ_T and ratios of ᾱ stay finite, and the first step starts from (nearly)
    /// pure noise.
    /// </summary>
    public static Tensor FiniteAlphasCumprod(SchedulerConfig config, OwnedTensors owner)
    {
        var (_, alphasCumprod) = Build(config, owner);
        if (config.RescaleBetasZeroSnr)
            alphasCumprod[-1] = torch.tensor(MathF.Pow(2, -24));
        return alphasCumprod;
    }

    /// <summary>σ_t = √((1 - ᾱ_t) / ᾱ_t) for every training timestep, in float32 as diffusers computes it.</summary>
    public static float[] TrainingSigmas(Tensor alphasCumprod)
    {
        using var scope = torch.NewDisposeScope();
        return ((1.0 - alphasCumprod) / alphasCumprod).pow(0.5).data<float>().ToArray();
    }

    /// <summary>diffusers' "Copied from DDPMScheduler.add_noise": √ᾱ_t x_0 + √(1-ᾱ_t) ε (DDPM eq. 4).</summary>
    public static Tensor AddNoiseDiscrete(Tensor alphasCumprod, Tensor original, Tensor noise, Tensor timesteps)
    {
        using var scope = torch.NewDisposeScope();
        var ac = alphasCumprod.to(original.dtype, original.device);
        var abar = ac[timesteps.to(int64, original.device)];
        var sqrtAlpha = Expand(abar.pow(0.5).flatten(), original.dim());
        var sqrtOneMinus = Expand((1.0 - abar).pow(0.5).flatten(), original.dim());
        return (sqrtAlpha * original + sqrtOneMinus * noise).MoveToOuterDisposeScope();
    }

    /// <summary>Appends trailing unit dimensions until <paramref name="t"/> has <paramref name="dims"/> dimensions.</summary>
    public static Tensor Expand(Tensor t, long dims)
    {
        while (t.dim() < dims)
            t = t.unsqueeze(-1);
        return t;
    }

    /// <summary>Stores a tensor across steps: a copy that outlives the caller's dispose scope.</summary>
    public static Tensor Keep(Tensor t) => t.detach().clone().DetachFromDisposeScope();
}
