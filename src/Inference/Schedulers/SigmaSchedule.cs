namespace Easel.Inference.Schedulers;

/// <summary>
/// σ-space helpers shared by Euler, LMS and DPM-Solver (diffusers copies them between those files):
/// Karras et al. 2022 σ ramp and the σ → t inverse through the training log σ table.
/// </summary>
internal static class SigmaSchedule
{
    /// <summary>
    /// Karras, Aittala, Aila, Laine 2022, "Elucidating the Design Space of Diffusion-Based Generative
    /// Models", eq. 5: σ_i = (σ_max^(1/ρ) + i/(N-1) (σ_min^(1/ρ) - σ_max^(1/ρ)))^ρ with ρ = 7.
    /// </summary>
    public static double[] Karras(double sigmaMin, double sigmaMax, int numInferenceSteps, double rho = 7.0)
    {
        var ramp = NumpyCompat.Linspace(0, 1, numInferenceSteps);
        var minInvRho = Math.Pow(sigmaMin, 1 / rho);
        var maxInvRho = Math.Pow(sigmaMax, 1 / rho);
        return ramp.Select(r => Math.Pow(maxInvRho + r * (minInvRho - maxInvRho), rho)).ToArray();
    }

    /// <summary>Karras σ's between the config's sigma_min/max or the ends of <paramref name="inSigmas"/> (descending).</summary>
    public static double[] Karras(SchedulerConfig config, IReadOnlyList<double> inSigmas, int numInferenceSteps) =>
        Karras(config.SigmaMin ?? inSigmas[^1], config.SigmaMax ?? inSigmas[0], numInferenceSteps);

    /// <summary>
    /// The fractional training timestep whose σ is <paramref name="sigma"/>: linear interpolation in
    /// log σ between the two neighbouring training steps (float32 table, as diffusers keeps it).
    /// </summary>
    public static double SigmaToT(double sigma, IReadOnlyList<float> logSigmas)
    {
        var logSigma = Math.Log(Math.Max(sigma, 1e-10));
        // argmax of cumsum(dists >= 0): the last index whose log σ does not exceed log_sigma (0 if none).
        long count = 0, best = -1;
        var lowIdx = 0;
        for (var i = 0; i < logSigmas.Count; i++)
        {
            if (logSigma - logSigmas[i] >= 0) count++;
            if (count > best) { best = count; lowIdx = i; }
        }
        lowIdx = Math.Min(lowIdx, logSigmas.Count - 2);
        var highIdx = lowIdx + 1;
        var low = logSigmas[lowIdx];
        var high = logSigmas[highIdx];
        var w = (low - logSigma) / (double)(low - high);
        w = Math.Clamp(w, 0, 1);
        return (1 - w) * lowIdx + w * highIdx;
    }

    /// <summary>np.log of the float32 σ table (float32 results).</summary>
    public static float[] Log(IReadOnlyList<float> sigmas) => sigmas.Select(s => MathF.Log(s)).ToArray();
}
