using Easel.Core.Models;
using Easel.Inference.Pipelines;

namespace Easel.Workers.Models;

/// <summary>
/// What the generation runner needs of a loaded model: the seam between job handling and the inference core.
/// Production code uses <see cref="StableDiffusionModelLoader"/>; tests supply their own to exercise failure paths.
/// </summary>
public interface ITextToImageModel : IDisposable
{
    string Family { get; }

    /// <summary>Runs text-to-image; throws OperationCanceledException between steps when canceled, ArgumentException
    /// or NotSupportedException for requests the model cannot run.</summary>
    IReadOnlyList<GeneratedImage> TextToImage(TextToImageRequest request, IProgress<DenoisingProgress>? progress = null,
        CancellationToken cancellationToken = default);
}

/// <summary>Loads a configured model into memory (weights on the configured device).</summary>
public interface ITextToImageModelLoader
{
    ITextToImageModel Load(ModelInfo model);
}
