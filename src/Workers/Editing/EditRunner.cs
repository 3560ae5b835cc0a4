using Easel.Core.Editing;
using Easel.Core.Jobs;
using Easel.Inference.Editing.BlendedLatentDiffusion;
using Easel.Inference.Pipelines;
using Easel.Workers.Generation;
using Easel.Workers.Jobs;

namespace Easel.Workers.Editing;

/// <summary>
/// The edit kind: the stored <see cref="EditParameters"/> run their method on the cached pipeline of the job's model, on
/// the inpainting generation they are built on (its artifacts, progress, images and PNG metadata, see
/// <see cref="GenerationRunner"/>).
/// </summary>
public sealed class EditRunner(GenerationRunner generations) : IJobKindRunner
{
    public JobKind Kind => JobKind.Edit;

    public Task<JobResults> RunAsync(JobRun run)
    {
        var edit = run.Job.ReadRequest<EditParameters>();
        if (edit.Method != EditMethods.Blended)
            throw new NotSupportedException($"Edit method '{edit.Method}' is not supported by this worker.");
        return generations.RunAsync(run, edit.ToGeneration(), edit, (model, request, progress, cancellationToken) =>
        {
            var pipeline = model.Pipeline ?? throw new NotSupportedException($"Model '{edit.Model}' cannot run edits on this worker.");
            var blended = new BlendedLatentDiffusionEdit((InpaintRequest)request, Background(edit.Background),
                new DecoderOptimization(Steps: edit.DecoderSteps ?? EditMethods.DefaultDecoderSteps));
            return blended.Run(pipeline, progress, cancellationToken);
        });
    }

    private static BackgroundTreatment Background(string name) => name switch
    {
        "pixel_blend" => BackgroundTreatment.PixelBlend,
        "decoder_optimization" => BackgroundTreatment.DecoderOptimization,
        "none" => BackgroundTreatment.None,
        _ => throw new InvalidDataException($"Unknown background '{name}'."),
    };
}
