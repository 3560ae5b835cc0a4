using static TorchSharp.torch;

namespace Easel.Inference.Pipelines.Denoising;

/// <summary>Rewrites the UNet's input of each step, e.g. the extra channels of inpainting UNets.</summary>
public interface IModelInputExtension : IDenoisingExtension
{
    /// <param name="modelInput">(B, C, h, w), B = 2N with guidance.</param>
    Tensor Extend(DenoisingStep step, Tensor modelInput);
}
