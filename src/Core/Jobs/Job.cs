using System.Text.Json;

namespace Easel.Core.Jobs;

/// <summary>
/// One unit of work accepted by the API. The database row is the source of truth; Hangfire only carries the id.
/// The typed request is stored as JSON so that later kinds (edit, fine-tune) share the table.
/// </summary>
public sealed class Job
{
    public Guid Id { get; set; }

    public JobKind Kind { get; set; }

    public JobStatus Status { get; set; }

    /// <summary>The resolved request (defaults filled in, seed chosen) as JSON; its shape depends on <see cref="Kind"/>.</summary>
    public string Request { get; set; } = "{}";

    /// <summary>
    /// The model the job runs on (the request's <c>model</c>, with the default applied); it picks the Hangfire queue, so that
    /// only a worker serving the model takes the job.
    /// </summary>
    public string? Model { get; set; }

    /// <summary>The id of the API key that created the job; null while authentication is off.</summary>
    public string? Owner { get; set; }

    /// <summary>Higher runs first among queued jobs; 0 by default.</summary>
    public int Priority { get; set; }

    /// <summary>The client's deadline: a job still queued past it is canceled, a running one stopped.</summary>
    public DateTimeOffset? CancelAfter { get; set; }

    /// <summary>Set by POST /v1/jobs/{id}/cancel while the job runs; the worker stops between denoising steps.</summary>
    public DateTimeOffset? CancelRequestedAt { get; set; }

    /// <summary>Where completion and (optionally) start/progress are posted; null for no webhook.</summary>
    public string? Webhook { get; set; }

    public WebhookEventTypes WebhookEvents { get; set; } = WebhookEventTypes.Completed;

    /// <summary>The dispatcher's id for the latest enqueue (a Hangfire job id); the recovery sweep checks it.</summary>
    public string? DispatchId { get; set; }

    public DateTimeOffset? DispatchedAt { get; set; }

    /// <summary>The worker that holds the claim, and when it last said it is alive; a stale heartbeat means a lost worker.</summary>
    public string? WorkerName { get; set; }

    public DateTimeOffset? HeartbeatAt { get; set; }

    /// <summary>W3C traceparent of the request that created the job, so that the worker's spans join the request's trace.</summary>
    public string? TraceParent { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? StartedAt { get; set; }

    public DateTimeOffset? FinishedAt { get; set; }

    /// <summary>How many times a worker claimed the job.</summary>
    public int Attempts { get; set; }

    public int ProgressStep { get; set; }

    public int ProgressTotal { get; set; }

    /// <summary>A readable reason when the job failed; never a stack trace.</summary>
    public string? Error { get; set; }

    /// <summary>Optimistic concurrency token, renewed on every state transition.</summary>
    public Guid Version { get; set; }

    public List<Images.Image> Images { get; set; } = [];

    /// <summary>
    /// The artifacts the job produced (a fine-tune's LoRA or embedding), for its response and webhook body. Not a column:
    /// the artifacts table refers to the job (<c>job_id</c>); whoever shows a finished job fills this from there.
    /// </summary>
    public List<Artifacts.ArtifactSummary> Artifacts { get; set; } = [];

    public bool IsFinished => Status is JobStatus.Succeeded or JobStatus.Failed or JobStatus.Canceled;

    public List<JobEvent> Events { get; set; } = [];

    public static Job Create<TRequest>(JobKind kind, TRequest request, DateTimeOffset now, string? owner = null)
    {
        var json = JsonSerializer.Serialize(request, JobJson.Options);
        return new Job
        {
            Id = Guid.CreateVersion7(now),
            Kind = kind,
            Status = JobStatus.Queued,
            Request = json,
            Model = ModelOf(json),
            Owner = owner,
            CreatedAt = now,
            Version = Guid.NewGuid(),
        };
    }

    /// <summary>The <c>model</c> field of a stored request, when its kind has one.</summary>
    public static string? ModelOf(string request)
    {
        try
        {
            using var document = JsonDocument.Parse(request);
            return document.RootElement.ValueKind == JsonValueKind.Object
                   && document.RootElement.TryGetProperty("model", out var model) && model.ValueKind == JsonValueKind.String
                ? model.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public TRequest ReadRequest<TRequest>() =>
        JsonSerializer.Deserialize<TRequest>(Request, JobJson.Options)
        ?? throw new InvalidOperationException($"Job {Id} has an empty request.");
}

/// <summary>What a job does; selects the request type and the runner.</summary>
public enum JobKind
{
    Generation,
    FineTune,
    Edit,
}

/// <summary>queued → running → succeeded | failed | canceled.</summary>
public enum JobStatus
{
    Queued,
    Running,
    Succeeded,
    Failed,
    Canceled,
}

/// <summary>Which job events are posted to the job's webhook (a subset of started, progress, completed).</summary>
[Flags]
public enum WebhookEventTypes
{
    None = 0,
    Started = 1,
    Progress = 2,
    Completed = 4,
}

/// <summary>The JSON form of stored requests: snake_case, like the HTTP API.</summary>
public static class JobJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };
}
