using Easel.Inference.Pipelines;
using Easel.Inference.Pipelines.Denoising;

namespace Easel.Inference.Editing.PromptToPrompt;

/// <summary>
/// Prompt-to-Prompt on a generated source (Hertz et al. 2022): the source prompt and the edited prompt run as one batch
/// from the same z_T drawn from the seed, the edited row's attention maps injected from the source row's
/// (<see cref="PromptToPromptController"/>). The images are [source, edit].
/// </summary>
/// <param name="Source">The source prompt (the image it makes is the first result).</param>
/// <param name="Edit">The edited prompt.</param>
public sealed record PromptToPromptEdit(string Source, string Edit, string NegativePrompt, int Width, int Height, int Steps, double GuidanceScale,
    long Seed, string? Scheduler, PromptToPromptSettings Settings)
{
    public IReadOnlyList<GeneratedImage> Run(StableDiffusionPipeline pipeline, IProgress<DenoisingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        using var controller = new PromptToPromptController(pipeline.Tokenizer, Source, Edit, Settings, SharedNoise);
        var request = new TextToImageRequest(Source, NegativePrompt, Width, Height, Steps, GuidanceScale, Seed, Scheduler, NumImages: 2)
        {
            SeedMode = SeedMode.Batch,
            ImagePrompts = [Source, Edit],
            Extensions = [controller],
        };
        return pipeline.Generate(request, progress, cancellationToken);
    }

    /// <summary>z_T drawn once, for one image, and given to both rows (the start of text-to-image otherwise).</summary>
    private static LatentStart SharedNoise(DenoisingSetup setup)
    {
        long[] one = [1, .. setup.LatentShape[1..]];
        var noise = (setup.InitialNoise ?? setup.Noise.Next(one, TorchSharp.torch.ScalarType.Float32, setup.Pipeline.Placement.Device))
            .to(TorchSharp.torch.ScalarType.Float32).to(setup.Pipeline.Placement.Device);
        return new LatentStart(noise.repeat(2, 1, 1, 1) * setup.Scheduler.InitNoiseSigma, setup.Scheduler.Timesteps, []);
    }
}
