using Easel.Inference.Models.Vae;
using Easel.Inference.Pipelines;
using Easel.Inference.Imaging;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Editing.BlendedLatentDiffusion;

/// <summary>
/// Blended Latent Diffusion's background reconstruction (Avrahami et al. 2023, §3.3): the edit's latents z_0 decode the
/// background only as well as the VAE reconstructs it, so the decoder's weights θ are fine-tuned for this one image,
/// θ* = argmin ‖(D_θ(z_0) − D_θ₀(z_0)) ⊙ m‖² + λ‖(D_θ(z_0) − x) ⊙ (1 − m)‖², keeping the edit as first decoded inside the
/// mask and matching the input outside it. It trains a float32 copy of the decoder, so the cached model stays as it was.
/// </summary>
/// <param name="Steps">Adam steps on the decoder copy.</param>
/// <param name="LearningRate">Adam's learning rate.</param>
/// <param name="BackgroundWeight">λ, the background term's weight.</param>
public sealed record DecoderOptimization(int Steps = 100, double LearningRate = 1e-4, double BackgroundWeight = 100)
{
    /// <summary>Decodes the scaled latents (N, C, h, w) with a decoder tuned for each image; images in [0, 1], NHWC on the CPU.</summary>
    /// <param name="input">The input image x.</param>
    /// <param name="region">(1, 1, H, W) float32, 1 = edited (m).</param>
    public Tensor Decode(StableDiffusionPipeline pipeline, Tensor latents, InputImage input, Tensor region, CancellationToken cancellationToken)
    {
        using var scope = torch.NewDisposeScope();
        var device = pipeline.Placement.Device;
        var vae = pipeline.Vae;
        var target = input.ToRgbTensor(device) * 2 - 1; // x, (1, 3, H, W) in [-1, 1]
        var inside = region.to(device);
        var outside = 1 - inside;
        var decoded = new List<Tensor>();
        foreach (var z in latents.split(1))
        {
            cancellationToken.ThrowIfCancellationRequested();
            Tensor decoderInput;
            using (torch.no_grad())
                decoderInput = vae.DecoderInput(pipeline.Unscale(z).to(vae.parameters().First().dtype)).to(float32);
            using var decoder = new Decoder(vae.Config);
            decoder.load_state_dict(vae.Decoder.state_dict());
            decoder.to(device, float32);
            decoded.Add(Tune(decoder, decoderInput, target, inside, outside, cancellationToken));
        }
        return ImageTensors.ToUnitNhwc(torch.cat(decoded.ToArray(), 0)).MoveToOuterDisposeScope();
    }

    private Tensor Tune(Decoder decoder, Tensor decoderInput, Tensor target, Tensor inside, Tensor outside, CancellationToken cancellationToken)
    {
        Tensor first;
        using (torch.no_grad())
            first = decoder.call(decoderInput); // D_θ₀(z_0)
        var parameters = decoder.parameters().ToList();
        foreach (var parameter in parameters)
            parameter.requires_grad = true;
        using var optimizer = torch.optim.Adam(parameters, LearningRate);
        using (torch.enable_grad())
        {
            for (var step = 0; step < Steps; step++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var stepScope = torch.NewDisposeScope();
                optimizer.zero_grad();
                var output = decoder.call(decoderInput);
                var loss = ((output - first) * inside).square().mean() + BackgroundWeight * ((output - target) * outside).square().mean();
                loss.backward();
                optimizer.step();
            }
        }
        using (torch.no_grad())
            return decoder.call(decoderInput);
    }
}
