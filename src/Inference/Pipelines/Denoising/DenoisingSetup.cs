using Easel.Inference.Schedulers;
using static TorchSharp.torch;

namespace Easel.Inference.Pipelines.Denoising;

/// <summary>What a latent initialiser sees: the request, its scheduler (timesteps set) and noise, and the latent shape.</summary>
/// <param name="LatentShape">(N, C, h, w) of the latents to produce.</param>
/// <param name="InitialNoise">Replaces the draw of the starting noise when given (e.g. a parity case's latents).</param>
/// <param name="Guidance">Whether the UNet runs the [uncond, cond] batch.</param>
public sealed record DenoisingSetup(
    StableDiffusionPipeline Pipeline,
    GenerationRequest Request,
    IScheduler Scheduler,
    INoiseSource Noise,
    long[] LatentShape,
    Tensor? InitialNoise,
    bool Guidance)
{
    /// <summary>The starting noise: <see cref="InitialNoise"/>, or the next draw from <see cref="Noise"/>, float32 on the pipeline's device.</summary>
    public Tensor StartNoise() =>
        (InitialNoise ?? Noise.Next(LatentShape, ScalarType.Float32, Pipeline.Placement.Device)).to(ScalarType.Float32).to(Pipeline.Placement.Device);
}
