using static TorchSharp.torch;

namespace Easel.Inference.Pipelines.Denoising;

/// <summary>Called after every step with the new latents (progress, previews, per-step bookkeeping of a method).</summary>
public interface IStepCallback : IDenoisingExtension
{
    /// <param name="latents">(N, C, h, w) after the step; owned by the loop, valid only during the call.</param>
    void OnStepEnd(DenoisingStep step, Tensor latents);
}
