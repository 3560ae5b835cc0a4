using Easel.Core.Editing;
using Easel.Core.Jobs;
using Easel.Inference.Editing.BlendedLatentDiffusion;
using Easel.Inference.Editing.PromptToPrompt;
using Easel.Inference.Pipelines;
using Easel.Workers.Generation;
using Easel.Workers.Jobs;

namespace Easel.Workers.Editing;

/// <summary>
/// The edit kind: the stored <see cref="EditParameters"/> run their method on the cached pipeline of the job's model, on
/// the generation they are built on (its artifacts, progress, images and PNG metadata, see
/// <see cref="GenerationRunner"/>).
/// </summary>
public sealed class EditRunner(GenerationRunner generations) : IJobKindRunner
{
    public JobKind Kind => JobKind.Edit;

    public Task<JobResults> RunAsync(JobRun run)
    {
        var edit = run.Job.ReadRequest<EditParameters>();
        return generations.RunAsync(run, edit.ToGeneration(), edit, (model, request, progress, cancellationToken) =>
        {
            var pipeline = model.Pipeline ?? throw new NotSupportedException($"Model '{edit.Model}' cannot run edits on this worker.");
            return edit.Method switch
            {
                EditMethods.Blended => new BlendedLatentDiffusionEdit((InpaintRequest)request, Background(edit.Background!),
                    new DecoderOptimization(Steps: edit.DecoderSteps ?? EditMethods.DefaultDecoderSteps)).Run(pipeline, progress, cancellationToken),
                EditMethods.PromptToPrompt => PromptToPrompt(edit, (TextToImageRequest)request, pipeline, progress, cancellationToken),
                _ => throw new NotSupportedException($"Edit method '{edit.Method}' is not supported by this worker."),
            };
        });
    }

    /// <summary>A generated source runs as it is; a real one is inverted under its prompt first (reported as step 0 until done).</summary>
    private IReadOnlyList<GeneratedImage> PromptToPrompt(EditParameters edit, TextToImageRequest request, StableDiffusionPipeline pipeline,
        IProgress<DenoisingProgress> progress, CancellationToken cancellationToken)
    {
        var p2p = edit.PromptToPrompt ?? throw new InvalidDataException("The edit has no prompt_to_prompt values.");
        var settings = new PromptToPromptSettings(p2p.CrossReplaceSteps, p2p.CrossReplaceStepsPerWord, p2p.SelfReplaceSteps, p2p.Reweight, p2p.LocalBlend);
        if (edit.Image is null)
            return new PromptToPromptEdit(request, p2p.SourcePrompt, settings).Run(pipeline, progress, cancellationToken);
        var image = generations.ReadInput(edit.Image, "source image", grayscale: false);
        using var inversion = ImageInversion.Invert(pipeline, image, p2p.SourcePrompt, edit.Steps, edit.GuidanceScale,
            p2p.Inversion == "ddim" ? InversionMethod.Ddim : InversionMethod.NullText, p2p.NullTextLearningRate ?? ImageInversion.DefaultLearningRate,
            cancellationToken);
        return new PromptToPromptEdit(request, p2p.SourcePrompt, settings, inversion).Run(pipeline, progress, cancellationToken);
    }

    private static BackgroundTreatment Background(string name) => name switch
    {
        "pixel_blend" => BackgroundTreatment.PixelBlend,
        "decoder_optimization" => BackgroundTreatment.DecoderOptimization,
        "none" => BackgroundTreatment.None,
        _ => throw new InvalidDataException($"Unknown background '{name}'."),
    };
}
