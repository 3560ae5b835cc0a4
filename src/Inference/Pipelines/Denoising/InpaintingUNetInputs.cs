using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Pipelines.Denoising;

/// <summary>Inpainting UNets read [latents, mask, masked-image latents] along the channels (9 = 4 + 1 + 4).</summary>
public sealed class InpaintingUNetInputs : IModelInputExtension
{
    private readonly Tensor _extra;

    /// <param name="latentMask">(N, 1, h, w), 1 = repaint.</param>
    /// <param name="maskedImageLatents">(N, C, h, w) latents of the image with the repainted part blacked out.</param>
    public InpaintingUNetInputs(Tensor latentMask, Tensor maskedImageLatents, bool guidance)
    {
        var extra = torch.cat([latentMask, maskedImageLatents], 1); // (N, 1 + C, h, w)
        _extra = guidance ? torch.cat([extra, extra], 0) : extra; // (B, 1 + C, h, w)
    }

    public Tensor Extend(DenoisingStep step, Tensor modelInput) => torch.cat([modelInput, _extra.to(modelInput.dtype)], 1);
}
