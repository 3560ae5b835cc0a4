using static TorchSharp.torch;

namespace Easel.Inference.Pipelines.Denoising;

/// <summary>What an <see cref="ILatentInitializer"/> gives the loop.</summary>
/// <param name="Latents">(N, C, h, w) latents at the first timestep, float32.</param>
/// <param name="Timesteps">The timesteps to run, in order.</param>
/// <param name="Extensions">Hooks the start brings with it (inpainting's blend and mask channels), run before the request's own.</param>
public sealed record LatentStart(Tensor Latents, Tensor Timesteps, IReadOnlyList<IDenoisingExtension> Extensions);
