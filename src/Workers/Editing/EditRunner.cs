using System.Text.Json;
using Easel.Core;
using Easel.Core.Artifacts;
using Easel.Core.Editing;
using Easel.Core.Jobs;
using Easel.Core.Models;
using Easel.Core.Options;
using Easel.Core.Storage;
using Easel.Inference.Editing.BlendedLatentDiffusion;
using Easel.Inference.Editing.Imagic;
using Easel.Inference.Editing.PromptToPrompt;
using Easel.Inference.Pipelines;
using Easel.Workers.FineTunes;
using Easel.Workers.Generation;
using Easel.Workers.Jobs;
using Easel.Workers.Models;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Easel.Workers.Editing;

/// <summary>
/// The edit kind: the stored <see cref="EditParameters"/> run their method on the cached pipeline of the job's model, on
/// the generation they are built on (its artifacts, progress, images and PNG metadata, see <see cref="GenerationRunner"/>).
/// Imagic's training job (on the train queue) stores an edit_session artifact and submits the first render with its
/// success; a render job loads the session and renders each η.
/// </summary>
public sealed class EditRunner(
    GenerationRunner generations,
    ModelCache models,
    ILocalModels localModels,
    IBlobStore blobs,
    BaseModelHashes hashes,
    TimeProvider time,
    IOptions<EaselOptions> easel) : IJobKindRunner
{
    public JobKind Kind => JobKind.Edit;

    public async Task<JobResults> RunAsync(JobRun run)
    {
        var edit = run.Job.ReadRequest<EditParameters>();
        if (edit.Trains)
            return await TrainImagicAsync(run, edit);
        using var session = edit.Method == EditMethods.Imagic ? await LoadSessionAsync(run, edit) : null;
        return await generations.RunAsync(run, edit.ToGeneration(), edit, (model, request, progress, cancellationToken) =>
        {
            var pipeline = model.Pipeline ?? throw new NotSupportedException($"Model '{edit.Model}' cannot run edits on this worker.");
            return edit.Method switch
            {
                EditMethods.Blended => new BlendedLatentDiffusionEdit((InpaintRequest)request, Background(edit.Background!),
                    new DecoderOptimization(Steps: edit.DecoderSteps ?? EditMethods.DefaultDecoderSteps)).Run(pipeline, progress, cancellationToken),
                EditMethods.PromptToPrompt => PromptToPrompt(edit, (TextToImageRequest)request, pipeline, progress, cancellationToken),
                EditMethods.Imagic => [.. edit.Imagic!.Etas.Select(eta =>
                    session!.Render(pipeline, (TextToImageRequest)request with { NumImages = 1 }, eta, progress, cancellationToken)[0])],
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

    /// <summary>
    /// Imagic's stages A and B on the job's image; the session (e_tgt, e_opt, the tuned LoRA) becomes an edit_session
    /// artifact, and the render of the request's η values is queued with the success.
    /// </summary>
    private async Task<JobResults> TrainImagicAsync(JobRun run, EditParameters edit)
    {
        var (job, imagic) = (run.Job, edit.Imagic!);
        if (!localModels.TryGet(edit.Model, out var model))
            throw new InvalidOperationException($"This worker does not serve model '{edit.Model}'.");
        var settings = new ImagicSettings(imagic.EmbeddingSteps, imagic.EmbeddingLearningRate, imagic.FinetuneSteps, imagic.FinetuneLearningRate, Seed: edit.Seed);
        var total = settings.EmbeddingSteps + settings.FineTuneSteps;
        run.Progress.Report(0, total);
        var image = generations.ReadInput(edit.Image, "image", grayscale: false);
        var file = Path.Combine(easel.Value.DataDirFullPath, "edit-sessions", $"{job.Id:N}.safetensors");
        using (var lease = models.Acquire(edit.Model))
        {
            var pipeline = lease.Model.Pipeline ?? throw new NotSupportedException($"Model '{edit.Model}' cannot run Imagic on this worker.");
            using var session = ImagicSession.Train(pipeline, image, edit.Prompt, settings, new StageReports(run.Progress, settings.EmbeddingSteps, total),
                run.CancellationToken);
            session.Save(file);
        }
        var blob = await blobs.PutAsync(await File.ReadAllBytesAsync(file, run.CancellationToken), run.CancellationToken);
        File.Delete(file);
        var now = time.GetUtcNowMilliseconds();
        var artifact = new Artifact
        {
            Id = Guid.CreateVersion7(now),
            Owner = job.Owner,
            Kind = ArtifactKind.EditSession,
            Name = $"imagic-{job.Id.ToString("N")[..12]}",
            Format = ArtifactFormat.Easel,
            BaseModel = edit.Model,
            BaseModelHash = hashes.Of(model),
            BlobKey = blob.Key,
            Sha256 = blob.Sha256,
            ByteSize = blob.ByteSize,
            Metadata = JsonSerializer.Serialize(new
            {
                Method = EditMethods.Imagic,
                TargetPrompt = edit.Prompt,
                Image = edit.Image,
                Imagic = imagic,
                Training = new { settings.Rank, settings.Batch, edit.Seed, TargetModules = ImagicSettings.TargetModules },
            }, JobJson.Options),
            JobId = job.Id,
            CreatedAt = now,
        };
        var render = Job.Create(JobKind.Edit, edit with { Imagic = imagic with { Session = artifact.Id } }, now, job.Owner);
        (render.Priority, render.Webhook, render.WebhookEvents, render.TraceParent) = (job.Priority, job.Webhook, job.WebhookEvents, job.TraceParent);
        return new JobResults([], [artifact], total) { FollowUps = [render] };
    }

    /// <summary>The session a render uses, from its artifact's blob (also a deleted artifact: the job keeps its reference).</summary>
    private async Task<ImagicSession> LoadSessionAsync(JobRun run, EditParameters edit)
    {
        var id = edit.Imagic?.Session ?? throw new InvalidDataException("The Imagic render names no session.");
        var artifact = await run.Db.Artifacts.AsNoTracking().SingleOrDefaultAsync(a => a.Id == id, run.CancellationToken)
            ?? throw new InvalidDataException($"The edit session {id} does not exist.");
        await using var stream = blobs.OpenRead(artifact.BlobKey) ?? throw new InvalidDataException($"The edit session {id}'s file is no longer stored.");
        var file = Path.Combine(easel.Value.DataDirFullPath, "edit-sessions", $"{run.Job.Id:N}-render.safetensors");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        await using (var copy = File.Create(file))
            await stream.CopyToAsync(copy, run.CancellationToken);
        try
        {
            return ImagicSession.Load(file);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static BackgroundTreatment Background(string name) => name switch
    {
        "pixel_blend" => BackgroundTreatment.PixelBlend,
        "decoder_optimization" => BackgroundTreatment.DecoderOptimization,
        "none" => BackgroundTreatment.None,
        _ => throw new InvalidDataException($"Unknown background '{name}'."),
    };

    /// <summary>Stage A's and B's steps as one count (A first), with the stage and its loss.</summary>
    private sealed class StageReports(JobProgressWriter progress, int embeddingSteps, int total) : IProgress<(string Stage, int Step, int Total, double Loss)>
    {
        public void Report((string Stage, int Step, int Total, double Loss) value) =>
            progress.Report(value.Stage == "embedding" ? value.Step : embeddingSteps + value.Step, total,
                new Dictionary<string, object?> { ["stage"] = value.Stage, ["loss"] = value.Loss });
    }
}
