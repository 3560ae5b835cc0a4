namespace Easel.Inference.Pipelines.Denoising;

/// <summary>
/// SDEdit (Meng et al. 2022): x_0 = E(image), then x_t0 ~ q(x_t0 | x_0) at the first of the last int(N·strength)
/// timesteps. Draws: the image posterior sample, then the noise added at t0.
/// </summary>
public sealed class ImageToImageLatents(InputImage image, double strength) : ILatentInitializer
{
    public LatentStart Initialize(DenoisingSetup setup)
    {
        var (pipeline, scheduler) = (setup.Pipeline, setup.Scheduler);
        var count = (int)setup.LatentShape[0];
        var timesteps = StrengthSchedule.Timesteps(scheduler, setup.Request.Steps, strength);
        var imageLatents = pipeline.EncodeImage(image.ToRgbTensor(pipeline.Placement.Device) * 2 - 1, setup.Noise, count);
        var latents = scheduler.AddNoise(imageLatents, setup.StartNoise(), timesteps[..1].repeat(count));
        return new LatentStart(latents, timesteps, []);
    }
}
