using Easel.Inference.Pipelines;
using Easel.Inference.Pipelines.Denoising;
using TorchSharp;

namespace Easel.Inference.Editing.PromptToPrompt;

/// <summary>
/// Prompt-to-Prompt (Hertz et al. 2022): the source prompt and the edited prompt run as one batch from the same z_T, the
/// edited row's attention maps injected from the source row's (<see cref="PromptToPromptController"/>). The source is
/// generated (z_T drawn from the seed) or a real image inverted under the source prompt (<see cref="ImageInversion"/>:
/// its z_T, and for null-text inversion its per-step unconditional embeddings in both rows). The images are
/// [source, edit].
/// </summary>
/// <param name="Request">The edited prompt's generation: size, steps, guidance, seed, scheduler, LoRAs, embeddings.</param>
/// <param name="SourcePrompt">The prompt of the source (the one that describes a real image).</param>
public sealed record PromptToPromptEdit(TextToImageRequest Request, string SourcePrompt, PromptToPromptSettings Settings, ImageInversion? Inversion = null)
{
    public IReadOnlyList<GeneratedImage> Run(StableDiffusionPipeline pipeline, IProgress<DenoisingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        using var controller = new PromptToPromptController(pipeline.Tokenizer, SourcePrompt, Request.Prompt, Settings,
            Inversion is { } inverted ? inverted.Initialize : SharedNoise);
        var request = Request with
        {
            NumImages = 2,
            SeedMode = SeedMode.Batch,
            ImagePrompts = [SourcePrompt, Request.Prompt],
            Extensions = [.. Request.Extensions, .. Inversion is null ? Array.Empty<IDenoisingExtension>() : [Inversion], controller],
        };
        return pipeline.Generate(request, progress, cancellationToken);
    }

    /// <summary>z_T drawn once, for one image, and given to both rows (the start of text-to-image otherwise).</summary>
    private static LatentStart SharedNoise(DenoisingSetup setup)
    {
        long[] one = [1, .. setup.LatentShape[1..]];
        var noise = (setup.InitialNoise ?? setup.Noise.Next(one, torch.ScalarType.Float32, setup.Pipeline.Placement.Device))
            .to(torch.ScalarType.Float32).to(setup.Pipeline.Placement.Device);
        return new LatentStart(noise.repeat(2, 1, 1, 1) * setup.Scheduler.InitNoiseSigma, setup.Scheduler.Timesteps, []);
    }
}
