namespace Easel.Inference.Pipelines.Denoising;

/// <summary>
/// Prepares the starting latents and the timesteps to run (text: x_T; image: SDEdit's noised image; inversion: the
/// inverted latents). One per request: the pipeline's own initialiser for the request kind, unless the request brings
/// one of its own.
/// </summary>
public interface ILatentInitializer : IDenoisingExtension
{
    LatentStart Initialize(DenoisingSetup setup);
}
