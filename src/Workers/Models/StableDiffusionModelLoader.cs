using Easel.Core.Models;
using Easel.Core.Options;
using Easel.Inference.Pipelines;
using Microsoft.Extensions.Options;

namespace Easel.Workers.Models;

/// <summary>Loads a diffusers folder with <see cref="StableDiffusionPipeline"/> on the device and dtype of <c>Easel:Workers</c>.</summary>
public sealed class StableDiffusionModelLoader(IOptions<WorkerOptions> options) : ITextToImageModelLoader
{
    public ITextToImageModel Load(ModelInfo model)
    {
        var worker = options.Value;
        return new Loaded(StableDiffusionPipeline.Load(model.Path, new PipelineOptions(worker.Device, worker.DType)));
    }

    private sealed class Loaded(StableDiffusionPipeline pipeline) : ITextToImageModel
    {
        public string Family => pipeline.Family;

        public IReadOnlyList<GeneratedImage> TextToImage(TextToImageRequest request, IProgress<DenoisingProgress>? progress = null,
            CancellationToken cancellationToken = default) =>
            pipeline.TextToImage(request, progress, cancellationToken);

        public void Dispose() => pipeline.Dispose();
    }
}
