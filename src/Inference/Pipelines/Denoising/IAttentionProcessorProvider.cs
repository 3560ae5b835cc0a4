using Easel.Inference.Models;

namespace Easel.Inference.Pipelines.Denoising;

/// <summary>
/// Installs attention processors on the UNet for one request (Prompt-to-Prompt's controller, Attend-and-Excite's map
/// store, Structured Diffusion's value averaging); the pipeline restores the previous processors when the request
/// ends, also when it fails or is canceled, so a cached model never keeps a request's controller.
/// </summary>
public interface IAttentionProcessorProvider : IDenoisingExtension
{
    /// <param name="attention">A UNet attention module (its <see cref="Attention.Name"/> says where it sits).</param>
    /// <param name="installed">The processor it has now (the model's, or an earlier extension's).</param>
    /// <returns>The processor for this request, or <paramref name="installed"/> to leave the module alone.</returns>
    IAttentionProcessor ProcessorFor(Attention attention, IAttentionProcessor installed);
}
