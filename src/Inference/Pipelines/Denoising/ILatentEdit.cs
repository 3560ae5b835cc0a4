using static TorchSharp.torch;

namespace Easel.Inference.Pipelines.Denoising;

/// <summary>
/// Edits the latents (N, C, h, w) around the scheduler step: before it (Attend-and-Excite's gradient step on z_t) or
/// after it (Blended Latent Diffusion's and inpainting's blend with the noised source). The loop runs under no_grad;
/// an edit that needs gradients opens <c>torch.enable_grad()</c> itself and may call the UNet through
/// <see cref="DenoisingStep.PredictNoise"/>.
/// </summary>
public interface ILatentEdit : IDenoisingExtension
{
    /// <summary>The latents the step will denoise; unchanged by default.</summary>
    Tensor BeforeStep(DenoisingStep step, Tensor latents) => latents;

    /// <summary>The latents after the scheduler step (z_{t−1}); unchanged by default.</summary>
    Tensor AfterStep(DenoisingStep step, Tensor latents) => latents;
}
