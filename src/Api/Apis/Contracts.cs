using System.Text.Json;
using System.Text.Json.Serialization;
using Easel.Core.Images;
using Easel.Core.Jobs;

namespace Easel.Api.Apis;

/// <summary>A job as the API shows it. URLs are relative to the service root.</summary>
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
            JobApi.PathOf(job.Id),
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
        image.Id, image.Index, ImageApi.PathOf(image.Id), image.Width, image.Height, image.Seed, image.ContentType, image.ByteSize, image.Sha256);
}

public sealed record ModelResponse(
    string Name,
    string Path,
    string Family,
    bool Inpainting,
    [property: JsonPropertyName("default")] bool Default,
    string? Problem);

public sealed record SchedulerResponse(
    string Name,
    string DisplayName,
    IReadOnlyList<string> Aliases,
    string DiffusersClass,
    [property: JsonPropertyName("default")] bool Default);
