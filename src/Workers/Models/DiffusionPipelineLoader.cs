using Easel.Core.Models;
using Easel.Core.Options;
using Easel.Inference.Control.ControlNet;
using Easel.Inference.Pipelines;
using Microsoft.Extensions.Options;

namespace Easel.Workers.Models;

/// <summary>
/// Loads a diffusers folder of any supported family (SD 1.x, 2.x, XL; text, image-to-image and inpainting UNets) with
/// <see cref="DiffusionPipelines.Load"/>, or a single-file checkpoint with its <c>ConfigFrom</c> folder (null: the family's built-in configs), on the device and
/// dtype of <c>Easel:Workers</c>.
/// </summary>
public sealed class DiffusionPipelineLoader(IOptions<WorkerOptions> options) : IGenerationModelLoader, IControlModelLoader
{
    /// <summary>A diffusers ControlNet folder, on the device and dtype pipelines load with.</summary>
    public ControlNetModel LoadControlNet(ModelInfo model)
    {
        var placement = Inference.Runtime.InferenceDevice.Resolve(options.Value.Device, options.Value.DType);
        return ControlNetModel.FromPretrained(model.Path, placement.Device, placement.DType);
    }

    /// <summary>A diffusers T2I-Adapter folder, on the device and dtype pipelines load with.</summary>
    public Inference.Control.T2IAdapter.T2IAdapterModel LoadT2IAdapter(ModelInfo model)
    {
        var placement = Inference.Runtime.InferenceDevice.Resolve(options.Value.Device, options.Value.DType);
        return Inference.Control.T2IAdapter.T2IAdapterModel.FromPretrained(model.Path, placement.Device, placement.DType);
    }

    public IGenerationModel Load(ModelInfo model)
    {
        var worker = options.Value;
        var pipelineOptions = new PipelineOptions(worker.Device, worker.DType);
        return new Loaded(model.Format == ModelFormat.SingleFile
            ? StableDiffusionPipeline.LoadSingleFile(model.Path, model.ConfigFrom, pipelineOptions)
            : DiffusionPipelines.Load(model.Path, pipelineOptions));
    }

    private sealed class Loaded(IDiffusionPipeline pipeline) : IGenerationModel
    {
        public string Family => pipeline.Family;

        public StableDiffusionPipeline? Pipeline => pipeline as StableDiffusionPipeline;

        public IReadOnlyList<GeneratedImage> Generate(Inference.Pipelines.GenerationRequest request, IProgress<DenoisingProgress>? progress = null,
            CancellationToken cancellationToken = default) =>
            pipeline.Generate(request, progress, cancellationToken);

        public void Dispose() => pipeline.Dispose();
    }
}
