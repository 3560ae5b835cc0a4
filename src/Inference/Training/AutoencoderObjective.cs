using Easel.Inference.Models.Vae;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Training;

/// <summary>
/// The KL-regularised autoencoder objective (Rombach et al. 2022, Appendix G, without the adversarial and
/// perceptual terms, which a world of flat-coloured shapes does not need): L1 + L2 reconstruction of a
/// posterior sample, plus a small KL(q(z|x) ‖ N(0, I)) that keeps the latent space smooth.
/// </summary>
public sealed class AutoencoderObjective(AutoencoderKL vae, double klWeight)
{
    /// <summary>The loss for a batch of images in [-1, 1], NCHW.</summary>
    public Tensor Loss(Tensor images, Generator generator)
    {
        using var posterior = vae.Encode(images);
        var noise = torch.randn(posterior.Mean.shape, dtype: float32, generator: generator).to(images.device);
        var reconstruction = vae.Decode(posterior.Sample(noise));
        var error = reconstruction - images;
        var kl = 0.5 * (posterior.Mean.square() + posterior.Var - 1 - posterior.LogVar).mean();
        return error.abs().mean() + error.square().mean() + klWeight * kl;
    }
}
