using Easel.Inference.Runtime;

namespace Easel.Inference.Pipelines;

/// <summary>A loaded model that generates images; obtain one with <see cref="DiffusionPipelines.Load"/>.</summary>
public interface IDiffusionPipeline : IDisposable
{
    /// <summary>The model folder (or single-file checkpoint) this pipeline was loaded from.</summary>
    string Folder { get; }

    /// <summary>The device and dtype the models run in.</summary>
    InferenceDevice Placement { get; }

    /// <summary>"sd15", "sd2" or "sdxl".</summary>
    string Family { get; }

    /// <summary>Whether the UNet is an inpainting UNet (9 input channels: latents, mask, masked-image latents).</summary>
    bool IsInpaintingModel { get; }

    /// <summary>Pixels per latent cell along each side; image sizes must be multiples of it.</summary>
    int VaeScaleFactor { get; }

    IReadOnlyList<GeneratedImage> TextToImage(TextToImageRequest request, IProgress<DenoisingProgress>? progress = null, CancellationToken cancellationToken = default);

    IReadOnlyList<GeneratedImage> ImageToImage(ImageToImageRequest request, IProgress<DenoisingProgress>? progress = null, CancellationToken cancellationToken = default);

    IReadOnlyList<GeneratedImage> Inpaint(InpaintRequest request, IProgress<DenoisingProgress>? progress = null, CancellationToken cancellationToken = default);

    /// <summary>Runs whichever kind <paramref name="request"/> is.</summary>
    IReadOnlyList<GeneratedImage> Generate(GenerationRequest request, IProgress<DenoisingProgress>? progress = null, CancellationToken cancellationToken = default);
}

/// <summary>Loads the right pipeline for a diffusers model folder.</summary>
public static class DiffusionPipelines
{
    /// <summary>
    /// model_index.json <c>_class_name</c>s this library can run (the SD 1.x/2.x/XL text, image and inpaint pipelines, and
    /// GLIGEN's text-grounded one, whose gated UNet the pipeline runs with <see cref="GenerationRequest.Grounding"/>).
    /// </summary>
    public static IReadOnlyList<string> SupportedClasses { get; } =
    [
        "StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline", "StableDiffusionInpaintPipeline",
        "StableDiffusionXLPipeline", "StableDiffusionXLImg2ImgPipeline", "StableDiffusionXLInpaintPipeline",
        "StableDiffusionGLIGENPipeline",
    ];

    /// <summary>
    /// Reads <c>model_index.json</c> and loads the folder: SDXL when it names an SDXL pipeline class or has a
    /// text_encoder_2, otherwise SD 1.x/2.x. Folders of other pipelines (GLIGEN text-image, …) are refused
    /// with their class name, since their UNets need components this pipeline does not run.
    /// </summary>
    public static IDiffusionPipeline Load(string modelFolder, PipelineOptions? options = null)
    {
        var index = ModelIndex.Read(modelFolder);
        if (index.ClassName is { } name && !SupportedClasses.Contains(name))
            throw new NotSupportedException($"'{modelFolder}' holds a {name}; supported pipelines are {string.Join(", ", SupportedClasses)}.");
        return StableDiffusionPipeline.Load(modelFolder, options);
    }
}
