using System.Text.Json;
using Easel.Core;
using Easel.Core.Artifacts;
using Easel.Core.Data;
using Easel.Core.FineTunes;
using Easel.Core.Generation;
using Easel.Core.Images;
using Easel.Core.Jobs;
using Easel.Core.Models;
using Easel.Core.Options;
using Easel.Core.Storage;
using Easel.Inference.Customization;
using Easel.Inference.Imaging;
using Easel.Inference.Pipelines;
using Easel.Inference.Training;
using Easel.Workers.Jobs;
using Easel.Workers.Models;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Easel.Workers.FineTunes;

/// <summary>
/// The fine-tune kind: runs the request's <see cref="IFineTuneMethod"/> on the cached pipeline of its base model in
/// chunks of <c>Easel:FineTunes:CheckpointEvery</c> steps, each ending in a checkpoint under
/// <c>&lt;DataDir&gt;/fine-tunes/&lt;job id&gt;</c>. Between chunks it writes progress (step, total, loss), generates the validation
/// images when due, and yields to generations queued for the same model: the job goes back to its queue
/// (<see cref="JobYieldedException"/>), the worker serves the generation queues first, and the next claim resumes from the
/// checkpoint with the same weights an uninterrupted run ends with. At the end the trained file becomes an artifact
/// with its lineage (base model hash, dataset hash, parameters, job).
/// </summary>
public sealed class FineTuneRunner(
    ModelCache models,
    ILocalModels localModels,
    IEnumerable<IFineTuneMethod> methods,
    IBlobStore blobs,
    BaseModelHashes hashes,
    TimeProvider time,
    IOptions<EaselOptions> easel,
    IOptions<FineTuneOptions> options) : IJobKindRunner
{
    public JobKind Kind => JobKind.FineTune;

    public async Task<JobResults> RunAsync(JobRun run)
    {
        var (job, p, token) = (run.Job, run.Job.ReadRequest<FineTuneParameters>(), run.CancellationToken);
        var method = methods.SingleOrDefault(m => m.Name == p.Method)
            ?? throw new NotSupportedException($"This worker has no fine-tune method '{p.Method}'.");
        if (!localModels.TryGet(p.Model, out var model))
            throw new InvalidOperationException($"This worker does not serve model '{p.Model}'.");
        var examples = p.Images.Select((image, i) => new FineTuneExample(ReadImage(image), p.Captions[i])).ToList();
        var folder = Path.Combine(easel.Value.DataDirFullPath, "fine-tunes", job.Id.ToString("N"));
        Directory.CreateDirectory(folder);
        var settings = new FineTuneSettings(examples, p.Steps, p.LearningRate, p.BatchSize, p.Seed, Path.Combine(folder, "checkpoints"),
            MethodParameters(p), options.Value.CheckpointEvery);

        using var lease = models.Acquire(p.Model);
        var pipeline = lease.Model.Pipeline ?? throw new NotSupportedException($"Model '{p.Model}' cannot be fine-tuned by this worker.");
        using var training = method.Start(pipeline, settings);
        run.Progress.Report(training.Step, training.TotalSteps);
        var images = new List<(Image, ReadOnlyMemory<byte>)>();
        var defaults = model.EffectiveDefaults;
        while (training.Step < training.TotalSteps)
        {
            var stopAt = NextStop(training.Step, training.TotalSteps, options.Value.CheckpointEvery, p.ValidateEvery);
            var reports = new TrainingReports(run.Progress);
            training.RunUntil(stopAt, reports, token);
            run.Progress.Report(training.Step, training.TotalSteps, reports.Last);
            if (p.ValidationPrompts.Count > 0 && (training.Step % p.ValidateEvery == 0 || training.Step == training.TotalSteps))
                Validate(run, training, p, defaults, images);
            if (training.Step < training.TotalSteps && await GenerationsWaitAsync(run.Db, p.Model, token))
                throw new JobYieldedException($"generations are waiting for model {p.Model}; resumes from step {training.Step}");
        }

        var exported = training.Export(Path.Combine(folder, "export"));
        var artifact = await StoreAsync(job, p, model, exported, token);
        Directory.Delete(folder, recursive: true);
        return new JobResults(images, [artifact], p.Steps);
    }

    /// <summary>The next step to stop at: a checkpoint boundary, a validation step or the end, whichever comes first.</summary>
    internal static int NextStop(int step, int total, int checkpointEvery, int validateEvery)
    {
        var nextCheckpoint = (step / checkpointEvery + 1) * checkpointEvery;
        var nextValidation = (step / validateEvery + 1) * validateEvery;
        return Math.Min(total, Math.Min(nextCheckpoint, nextValidation));
    }

    private static IReadOnlyDictionary<string, JsonElement> MethodParameters(FineTuneParameters p)
    {
        var values = new Dictionary<string, object>();
        if (p.TargetModules is { } modules)
            values["target_modules"] = modules;
        if (p.Method == FineTuneMethods.Lora)
        {
            values["rank"] = p.Rank ?? 4;
            values["alpha"] = p.Alpha ?? p.Rank ?? 4;
        }
        else
        {
            values["token"] = p.Token!;
            if (p.InitializerToken is { } initializer)
                values["initializer_token"] = initializer;
        }
        return values.ToDictionary(v => v.Key, v => JsonSerializer.SerializeToElement(v.Value));
    }

    /// <summary>Generates each validation prompt with the weights as trained so far; the images go to the job and its stream.</summary>
    private void Validate(JobRun run, IFineTuneRun training, FineTuneParameters p, ModelDefaults defaults,
        List<(Image, ReadOnlyMemory<byte>)> images)
    {
        var events = new List<(JobEventType, object)>();
        for (var i = 0; i < p.ValidationPrompts.Count; i++)
        {
            var seed = p.Seed + i;
            var request = new TextToImageRequest(p.ValidationPrompts[i], "", p.Resolution, p.Resolution, defaults.Steps ?? 20,
                defaults.GuidanceScale ?? 7.5, seed, defaults.Scheduler);
            var generated = training.Generate(request, run.CancellationToken).Single();
            var png = PngEncoder.Encode(generated);
            var now = time.GetUtcNowMilliseconds();
            images.Add((new Image
            {
                Id = Guid.CreateVersion7(now),
                JobId = run.Job.Id,
                Index = images.Count,
                Width = generated.Width,
                Height = generated.Height,
                Seed = seed,
                ContentType = "image/png",
                CreatedAt = now,
            }, png));
            events.Add((JobEventType.Validation, new
            {
                training.Step,
                Prompt = p.ValidationPrompts[i],
                Seed = seed,
                Image = "data:image/png;base64," + Convert.ToBase64String(png),
            }));
        }
        run.Progress.Report(training.Step, training.TotalSteps, extra: events);
    }

    private static Task<bool> GenerationsWaitAsync(EaselDbContext db, string model, CancellationToken cancellationToken) =>
        db.Jobs.AnyAsync(j => j.Kind == JobKind.Generation && j.Status == JobStatus.Queued && j.Model == model, cancellationToken);

    private async Task<Artifact> StoreAsync(Job job, FineTuneParameters p, ModelInfo model, FineTuneArtifact exported, CancellationToken cancellationToken)
    {
        var bytes = await File.ReadAllBytesAsync(exported.Files[0], cancellationToken);
        var blob = await blobs.PutAsync(bytes, cancellationToken);
        var metadata = new Dictionary<string, object?>(exported.Metadata)
        {
            ["training"] = new
            {
                p.Method,
                p.Steps,
                p.LearningRate,
                p.BatchSize,
                p.Resolution,
                p.Rank,
                p.Alpha,
                p.TargetModules,
                p.Seed,
                p.Token,
                p.InitializerToken,
                Images = p.Images.Count,
                p.Captions,
            },
            ["dataset_hash"] = p.DatasetHash,
        };
        return new Artifact
        {
            Id = Guid.CreateVersion7(time.GetUtcNow()),
            Owner = job.Owner,
            Kind = Enum.Parse<ArtifactKind>(exported.Kind, ignoreCase: true),
            Name = p.Name ?? $"{p.Method.Replace('_', '-')}-{job.Id.ToString("N")[..12]}",
            Format = Enum.Parse<ArtifactFormat>(exported.Format, ignoreCase: true),
            BaseModel = p.Model,
            BaseModelHash = hashes.Of(model),
            BlobKey = blob.Key,
            Sha256 = blob.Sha256,
            ByteSize = blob.ByteSize,
            Metadata = JsonSerializer.Serialize(metadata, JobJson.Options),
            JobId = job.Id,
            CreatedAt = time.GetUtcNowMilliseconds(),
        };
    }

    private InputImage ReadImage(StoredInputImage stored)
    {
        using var stream = blobs.OpenRead(stored.Blob)
            ?? throw new InvalidDataException($"A training image of this job (blob {stored.Blob}) is no longer stored.");
        var (width, height, pixels) = InputImageDecoder.ReadStoredPng(stream, grayscale: false);
        return InputImage.FromRgb(width, height, pixels);
    }

    /// <summary>Training steps → the job's progress rows and events, with the loss and learning rate of the step.</summary>
    private sealed class TrainingReports(JobProgressWriter progress) : IProgress<TrainingProgress>
    {
        public IReadOnlyDictionary<string, object?>? Last { get; private set; }

        public void Report(TrainingProgress value)
        {
            Last = new Dictionary<string, object?> { ["loss"] = value.Loss, ["learning_rate"] = value.LearningRate };
            progress.Report(value.Step, value.TotalSteps, Last);
        }
    }
}
