using Easel.Inference.Pipelines;
using Easel.Inference.Pipelines.Denoising;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Editing.BlendedLatentDiffusion;

/// <summary>
/// Blended Latent Diffusion's start (Avrahami, Fried, Lischinski 2023, Algorithm 1): z_init = E(x), m_latent =
/// downsample(m), z_k = noise(z_init, k) — pure noise at strength 1 —, and the blend of every step
/// (<see cref="MaskedLatentBlend.Blended"/>). Draws: the image posterior sample, the starting noise, then one fresh
/// background noise per step.
/// </summary>
public sealed class BlendedLatents(InputImage image, InputImage mask, double strength) : ILatentInitializer
{
    public LatentStart Initialize(DenoisingSetup setup)
    {
        var (pipeline, scheduler) = (setup.Pipeline, setup.Scheduler);
        var device = pipeline.Placement.Device;
        var count = (int)setup.LatentShape[0];
        var timesteps = StrengthSchedule.Timesteps(scheduler, setup.Request.Steps, strength);
        var initial = pipeline.EncodeImage(image.ToRgbTensor(device) * 2 - 1, setup.Noise, count); // z_init, (N, C, h, w)
        var latentMask = LatentMask(mask.ToGrayTensor(device) >= 0.5, pipeline.VaeScaleFactor).repeat(count, 1, 1, 1);
        var start = setup.StartNoise();
        var latents = strength >= 1.0 ? start * scheduler.InitNoiseSigma : scheduler.AddNoise(initial, start, timesteps[..1].repeat(count));
        return new LatentStart(latents, timesteps, [MaskedLatentBlend.Blended(latentMask, initial)]);
    }

    /// <summary>
    /// m_latent: a latent cell is edited when at least half of its pixels are. A mask part thinner than that would vanish
    /// from the latent grid (the paper's thin-mask failure), so a cell that holds masked pixels and lies more than a cell
    /// away from every kept cell is edited too: the mask dilated where, and only where, it would otherwise be lost.
    /// </summary>
    /// <param name="repaint">(1, 1, H, W), true = edit.</param>
    /// <returns>(1, 1, H/f, W/f) float32, 1 = edit.</returns>
    public static Tensor LatentMask(Tensor repaint, int factor)
    {
        using var scope = torch.NewDisposeScope();
        var pixels = repaint.to(float32);
        var coverage = nn.functional.avg_pool2d(pixels, factor, factor);
        var kept = coverage >= 0.5;
        var touched = coverage > 0;
        var nearKept = nn.functional.max_pool2d(kept.to(float32), 3, 1, 1) > 0;
        return (kept | (touched & ~nearKept)).to(float32).MoveToOuterDisposeScope();
    }
}
