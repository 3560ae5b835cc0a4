using System.Text.Json;
using Easel.Core.Images;

namespace Easel.Core.Jobs;

/// <summary>
/// A job as the API shows it, and the body of its webhooks (so it lives beside the entity: workers build it too).
/// URLs are relative to the service root.
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
    JsonElement Request,
    IReadOnlyList<ImageResponse> Images)
{
    public static JobResponse From(Job job)
    {
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
            request.RootElement.Clone(),
            job.Images.OrderBy(i => i.Index).Select(ImageResponse.From).ToList());
    }
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
