using static TorchSharp.torch;

namespace Easel.Inference.Pipelines.Denoising;

/// <summary>
/// Changes the text embeddings the UNet sees at one step (null-text inversion's per-step unconditional embeddings, which
/// replace the unconditional rows); the prompt's own embeddings stay as encoded for the other steps.
/// </summary>
public interface IStepTextEmbeddings : IDenoisingExtension
{
    /// <param name="hiddenStates">(B, L, D) the step's text embeddings, [uncond, cond] with guidance.</param>
    /// <returns>The embeddings for this step's UNet call, same shape.</returns>
    Tensor HiddenStates(DenoisingStep step, Tensor hiddenStates);
}
