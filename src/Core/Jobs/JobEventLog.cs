using System.Text.Json;
using Easel.Core.Data;
using Easel.Core.Webhooks;

namespace Easel.Core.Jobs;

/// <summary>
/// The one place a job's observable history is written: every state change appends a <see cref="JobEvent"/> (the SSE
/// stream) and, when the job has a webhook subscribed to that kind of event, a <see cref="WebhookDelivery"/> (the outbox).
/// Both are only added to the context: they commit in the caller's SaveChanges, together with the change they report,
/// so an event is never announced for a change that did not happen, nor lost for one that did.
/// </summary>
public static class JobEventLog
{
    /// <summary>Appends the event of <paramref name="type"/> for the job's current state; <paramref name="data"/> overrides the default body.</summary>
    public static JobEvent Append(EaselDbContext db, Job job, JobEventType type, DateTimeOffset now, object? data = null)
    {
        var jobEvent = new JobEvent
        {
            JobId = job.Id,
            Type = type,
            Data = JsonSerializer.Serialize(data ?? DefaultData(job, type), JobJson.Options),
            CreatedAt = now,
        };
        db.JobEvents.Add(jobEvent);

        var webhookEvent = WebhookEventOf(type);
        if (job.Webhook is { } url && webhookEvent != WebhookEventTypes.None && job.WebhookEvents.HasFlag(webhookEvent))
        {
            db.WebhookDeliveries.Add(new WebhookDelivery
            {
                Id = Guid.CreateVersion7(now),
                JobId = job.Id,
                Owner = job.Owner,
                EventType = webhookEvent,
                Url = url,
                Payload = JsonSerializer.Serialize(JobResponse.From(job), JobJson.Options),
                Status = WebhookDeliveryStatus.Pending,
                NextAttemptAt = now,
                CreatedAt = now,
                Version = Guid.NewGuid(),
            });
        }
        return jobEvent;
    }

    /// <summary>Which webhook subscription an event belongs to; previews and the queued event are not posted.</summary>
    public static WebhookEventTypes WebhookEventOf(JobEventType type) => type switch
    {
        JobEventType.Started => WebhookEventTypes.Started,
        JobEventType.Progress => WebhookEventTypes.Progress,
        JobEventType.Succeeded or JobEventType.Failed or JobEventType.Canceled => WebhookEventTypes.Completed,
        _ => WebhookEventTypes.None,
    };

    /// <summary>The final event of a finished job.</summary>
    public static JobEventType FinalEventOf(JobStatus status) => status switch
    {
        JobStatus.Succeeded => JobEventType.Succeeded,
        JobStatus.Failed => JobEventType.Failed,
        JobStatus.Canceled => JobEventType.Canceled,
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, "Only a finished job has a final event."),
    };

    private static object DefaultData(Job job, JobEventType type) => type switch
    {
        JobEventType.Progress => new { job.Id, job.Status, Step = job.ProgressStep, Total = job.ProgressTotal },
        _ => JobResponse.From(job),
    };
}
