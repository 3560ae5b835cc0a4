using static TorchSharp.torch;

namespace Easel.Inference.Pipelines.Denoising;

/// <summary>
/// Ordinary UNets: after step i, keep the generated latents under the mask and put back the image latents noised to
/// the next timestep elsewhere (clean after the last step), as diffusers' inpaint pipeline does for 4-channel UNets:
/// latents = m ⊙ z_fg + (1 − m) ⊙ z_bg with z_bg = q(z_{t−1} | E(x)) (Avrahami et al. 2023, Blended Latent Diffusion).
/// </summary>
/// <param name="latentMask">(N, 1, h, w), 1 = generated.</param>
/// <param name="imageLatents">(N, C, h, w) E(x) of the kept image.</param>
/// <param name="noise">(N, C, h, w) the noise the background is noised with at every step (the start's, as diffusers).</param>
public sealed class MaskedLatentBlend(Tensor latentMask, Tensor imageLatents, Tensor noise) : ILatentEdit
{
    public Tensor AfterStep(DenoisingStep step, Tensor latents)
    {
        var i = step.Index;
        var known = i < step.TotalSteps - 1
            ? step.Scheduler.AddNoise(imageLatents, noise, step.Timesteps[(i + 1)..(i + 2)].repeat(imageLatents.shape[0]))
            : imageLatents;
        return (1 - latentMask) * known + latentMask * latents;
    }
}
