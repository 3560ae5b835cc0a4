using Easel.Inference.Models.UNet;
using static TorchSharp.torch;

namespace Easel.Inference.Pipelines.Denoising;

/// <summary>
/// Adds per-step UNet conditioning: ControlNet residuals, T2I-Adapter features, grounding tokens (through
/// <see cref="UNetConditioning.Attention"/>). Contributions of several extensions add up (residuals are summed).
/// </summary>
public interface IUNetConditioningContributor : IDenoisingExtension
{
    /// <param name="modelInput">The scaled UNet input of the step, (B, C, h, w), B = 2N with guidance ([uncond, cond]).</param>
    /// <param name="conditioning">What earlier contributors (and the prompt) gave; return it with this extension's part added.</param>
    UNetConditioning Contribute(DenoisingStep step, Tensor modelInput, UNetConditioning conditioning);
}
