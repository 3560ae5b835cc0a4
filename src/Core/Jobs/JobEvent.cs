namespace Easel.Core.Jobs;

/// <summary>
/// One entry of a job's event stream (GET /v1/jobs/{id}/events). The id increases across all jobs, so it is the
/// SSE event id and a client resumes with Last-Event-ID. Appended in the same transaction as the state change it reports.
/// </summary>
public sealed class JobEvent
{
    public long Id { get; set; }

    public Guid JobId { get; set; }

    public JobEventType Type { get; set; }

    /// <summary>The SSE data line: a JSON object whose shape depends on <see cref="Type"/>.</summary>
    public string Data { get; set; } = "{}";

    public DateTimeOffset CreatedAt { get; set; }
}

public enum JobEventType
{
    Queued,
    Started,
    Progress,
    Preview,
    Succeeded,
    Failed,
    Canceled,

    /// <summary>A fine-tune's validation image (prompt, step, the PNG as a data URI); the image also stays with the job.</summary>
    Validation,
}
