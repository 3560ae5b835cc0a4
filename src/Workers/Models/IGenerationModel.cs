using Easel.Core.Models;
using Easel.Inference.Pipelines;

namespace Easel.Workers.Models;

/// <summary>
/// What the generation runner needs of a loaded model: the seam between job handling and the inference core.
/// Production code uses <see cref="DiffusionPipelineLoader"/>; tests supply their own to exercise failure paths.
/// </summary>
public interface IGenerationModel : IDisposable
{
    /// <summary>"sd15", "sd2" or "sdxl".</summary>
    string Family { get; }

    /// <summary>Runs whichever kind <paramref name="request"/> is (text-to-image, image-to-image, inpaint); throws
    /// OperationCanceledException between steps when canceled, ArgumentException or NotSupportedException for requests
    /// the model cannot run.</summary>
    IReadOnlyList<GeneratedImage> Generate(Inference.Pipelines.GenerationRequest request, IProgress<DenoisingProgress>? progress = null,
        CancellationToken cancellationToken = default);

    /// <summary>The loaded pipeline whose models a fine-tune trains against (frozen, with its own additions removed after the
    /// run) and an edit runs its method on, or null when this model is no such pipeline.</summary>
    StableDiffusionPipeline? Pipeline { get; }
}

/// <summary>Loads a configured model into memory (weights on the configured device).</summary>
public interface IGenerationModelLoader
{
    IGenerationModel Load(ModelInfo model);
}

/// <summary>Loads a configured control model (weights on the configured device and dtype).</summary>
public interface IControlModelLoader
{
    Inference.Control.ControlNet.ControlNetModel LoadControlNet(ModelInfo model);

    Inference.Control.T2IAdapter.T2IAdapterModel LoadT2IAdapter(ModelInfo model);
}
