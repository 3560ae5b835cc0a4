using System.Text.Json;
using System.Text.Json.Serialization;
using Easel.Core.Images;

namespace Easel.Core.Jobs;

/// <summary>
/// A job as the API shows it, and the body of its webhooks (so it lives beside the entity: workers build it too).
/// URLs are relative to the service root. <see cref="QueuePosition"/> and <see cref="Eta"/> are set only while the job
/// is queued and the caller computed them (<see cref="JobQueue"/>); webhook bodies and events carry null.
/// <see cref="WaitingFor"/> says what a queued job waits for when no live worker serves its model (<c>Easel:Jobs:UnservedModel</c> = wait).
/// </summary>
public sealed record JobResponse(
    Guid Id,
    JobKind Kind,
    JobStatus Status,
    string Url,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    int Attempts,
    JobProgress Progress,
    string? Error,
    int Priority,
    DateTimeOffset? CancelAfter,
    DateTimeOffset? CancelRequestedAt,
    string? Webhook,
    IReadOnlyList<string> WebhookEvents,
    int? QueuePosition,
    DateTimeOffset? Eta,
    string? WaitingFor,
    JsonElement Request,
    IReadOnlyList<ImageResponse> Images,
    IReadOnlyList<Artifacts.ArtifactSummary> Artifacts)
{
    [JsonIgnore]
    public bool IsFinished => Status is JobStatus.Succeeded or JobStatus.Failed or JobStatus.Canceled;

    /// <summary>The job document; <paramref name="queue"/> adds the queue position and ETA of a queued job.</summary>
    public static JobResponse From(Job job, JobQueueInfo? queue = null)
    {
        var queued = job.Status == JobStatus.Queued && queue is not null;
        using var request = JsonDocument.Parse(job.Request);
        return new JobResponse(
            job.Id,
            job.Kind,
            job.Status,
            ResourcePaths.Job(job.Id),
            job.CreatedAt,
            job.StartedAt,
            job.FinishedAt,
            job.Attempts,
            new JobProgress(job.ProgressStep, job.ProgressTotal),
            job.Error,
            job.Priority,
            job.CancelAfter,
            job.CancelRequestedAt,
            job.Webhook,
            WebhookEventNames(job.WebhookEvents),
            queued ? queue!.Position : null,
            queued ? queue!.Eta : null,
            queued ? queue!.WaitingFor : null,
            request.RootElement.Clone(),
            job.Images.OrderBy(i => i.Index).Select(ImageResponse.From).ToList(),
            job.Artifacts);
    }

    /// <summary>The subscribed events by their request names (started, progress, completed).</summary>
    public static IReadOnlyList<string> WebhookEventNames(WebhookEventTypes events) =>
        [.. new[] { WebhookEventTypes.Started, WebhookEventTypes.Progress, WebhookEventTypes.Completed }
            .Where(e => events.HasFlag(e))
            .Select(e => e.ToString().ToLowerInvariant())];
}

public sealed record JobProgress(int Step, int Total);

public sealed record ImageResponse(Guid Id, int Index, string Url, int Width, int Height, long Seed, string ContentType, long ByteSize, string Sha256)
{
    public static ImageResponse From(Image image) => new(
        image.Id, image.Index, ResourcePaths.Image(image.Id), image.Width, image.Height, image.Seed, image.ContentType, image.ByteSize, image.Sha256);
}

/// <summary>The service-relative URLs of resources, shared by the API's Location headers and the job document.</summary>
public static class ResourcePaths
{
    public static string Job(Guid id) => $"/v1/jobs/{id}";

    public static string Image(Guid id) => $"/v1/images/{id}";
}
