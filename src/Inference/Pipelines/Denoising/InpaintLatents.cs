using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Pipelines.Denoising;

/// <summary>
/// Inpainting's start: pure noise (strength 1) or the noised image, and the hooks that keep the unmasked part —
/// inpainting UNets read the mask and the masked image as extra channels (<see cref="InpaintingUNetInputs"/>),
/// ordinary UNets blend after every step (<see cref="MaskedLatentBlend"/>). Draws as diffusers: the image posterior
/// sample (ordinary UNets, or strength &lt; 1), the starting noise, then the masked-image posterior sample.
/// </summary>
public sealed class InpaintLatents(InputImage image, InputImage mask, double strength) : ILatentInitializer
{
    public LatentStart Initialize(DenoisingSetup setup)
    {
        var (pipeline, scheduler) = (setup.Pipeline, setup.Scheduler);
        var device = pipeline.Placement.Device;
        var count = (int)setup.LatentShape[0];
        var timesteps = StrengthSchedule.Timesteps(scheduler, setup.Request.Steps, strength);
        var fromPureNoise = strength >= 1.0;
        var pixels = image.ToRgbTensor(device) * 2 - 1; // (1, 3, H, W) in [-1, 1]
        var repaint = (mask.ToGrayTensor(device) >= 0.5).to(float32); // (1, 1, H, W), 1 = repaint
        var imageLatents = !pipeline.IsInpaintingModel || !fromPureNoise ? pipeline.EncodeImage(pixels, setup.Noise, count) : null;
        var start = setup.StartNoise();
        var latents = fromPureNoise ? start * scheduler.InitNoiseSigma : scheduler.AddNoise(imageLatents!, start, timesteps[..1].repeat(count));
        var maskedImageLatents = pipeline.EncodeImage(pixels * (repaint < 0.5), setup.Noise, count); // diffusers encodes it for every UNet
        var latentMask = nn.functional.interpolate(repaint, [setup.LatentShape[2], setup.LatentShape[3]], mode: InterpolationMode.Nearest)
            .repeat(count, 1, 1, 1); // (N, 1, h, w)
        IDenoisingExtension keep = pipeline.IsInpaintingModel
            ? new InpaintingUNetInputs(latentMask, maskedImageLatents, setup.Guidance)
            : MaskedLatentBlend.Inpainting(latentMask, imageLatents!, start);
        return new LatentStart(latents, timesteps, [keep]);
    }
}
