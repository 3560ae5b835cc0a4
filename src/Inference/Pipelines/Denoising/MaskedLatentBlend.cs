using static TorchSharp.torch;

namespace Easel.Inference.Pipelines.Denoising;

/// <summary>
/// After step i, keeps the generated latents under the mask and puts back the image latents, noised, elsewhere:
/// latents = m ⊙ z_fg + (1 − m) ⊙ z_bg (Avrahami et al. 2023, Blended Latent Diffusion, Algorithm 1). The two forms differ
/// only in how z_bg is noised: diffusers' inpainting for 4-channel UNets (<see cref="Inpainting"/>) and the paper's
/// (<see cref="Blended"/>).
/// </summary>
public sealed class MaskedLatentBlend : ILatentEdit
{
    private readonly Tensor _latentMask;
    private readonly Tensor _imageLatents;
    private readonly Tensor? _fixedNoise;

    private MaskedLatentBlend(Tensor latentMask, Tensor imageLatents, Tensor? fixedNoise)
    {
        _latentMask = latentMask;
        _imageLatents = imageLatents;
        _fixedNoise = fixedNoise;
    }

    /// <summary>
    /// diffusers' inpainting: z_bg = q(z_{t_{i+1}} | E(x)) with one fixed noise (the start's), the image latents clean after
    /// the last step.
    /// </summary>
    /// <param name="latentMask">(N, 1, h, w), 1 = generated.</param>
    /// <param name="imageLatents">(N, C, h, w) E(x) of the kept image.</param>
    /// <param name="startNoise">(N, C, h, w) the noise every step's background is noised with.</param>
    public static MaskedLatentBlend Inpainting(Tensor latentMask, Tensor imageLatents, Tensor startNoise) => new(latentMask, imageLatents, startNoise);

    /// <summary>
    /// The paper's: z_bg ~ noise(z_init, t), the step's own timestep t, with fresh noise from the request's generator at every
    /// step; after the last step the loop's t is 0 and z_bg = z_init, so the background decodes as the VAE's reconstruction.
    /// </summary>
    public static MaskedLatentBlend Blended(Tensor latentMask, Tensor imageLatents) => new(latentMask, imageLatents, null);

    public Tensor AfterStep(DenoisingStep step, Tensor latents)
    {
        var i = step.Index;
        var batch = _imageLatents.shape[0];
        Tensor background;
        if (_fixedNoise is { } noise)
            background = i < step.TotalSteps - 1 ? step.Scheduler.AddNoise(_imageLatents, noise, step.Timesteps[(i + 1)..(i + 2)].repeat(batch)) : _imageLatents;
        else
            background = i < step.TotalSteps - 1
                ? step.Scheduler.AddNoise(_imageLatents, step.Noise.Next(_imageLatents.shape, ScalarType.Float32, _imageLatents.device),
                    step.Timesteps[i..(i + 1)].repeat(batch))
                : _imageLatents;
        return (1 - _latentMask) * background + _latentMask * latents;
    }
}
