namespace Easel.Inference.Pipelines.Denoising;

/// <summary>Text-to-image: x_T ~ N(0, σ_max² I) over every timestep of the schedule.</summary>
public sealed class TextToImageLatents : ILatentInitializer
{
    public static readonly TextToImageLatents Instance = new();

    public LatentStart Initialize(DenoisingSetup setup) =>
        new(setup.StartNoise() * setup.Scheduler.InitNoiseSigma, setup.Scheduler.Timesteps, []);
}
