using Easel.Core.Jobs;

namespace Easel.Core.Webhooks;

/// <summary>
/// The outbox: one message to one webhook URL, written in the transaction of the job change it reports. Its id is the
/// <c>webhook-id</c> header, stable across retries; the body is frozen when the message is written.
/// </summary>
public sealed class WebhookDelivery
{
    public Guid Id { get; set; }

    public Guid JobId { get; set; }

    public string? Owner { get; set; }

    public WebhookEventTypes EventType { get; set; }

    public string Url { get; set; } = "";

    /// <summary>The JSON body: the job as GET /v1/jobs/{id} showed it when the event happened.</summary>
    public string Payload { get; set; } = "{}";

    public WebhookDeliveryStatus Status { get; set; }

    public int AttemptCount { get; set; }

    /// <summary>When the next attempt is due; null once delivered or given up.</summary>
    public DateTimeOffset? NextAttemptAt { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? DeliveredAt { get; set; }

    public string? LastError { get; set; }

    /// <summary>Optimistic concurrency token: two delivery runs of one message never both send it.</summary>
    public Guid Version { get; set; }

    public List<WebhookAttempt> Attempts { get; set; } = [];
}

public enum WebhookDeliveryStatus
{
    /// <summary>Waiting for its first or next attempt.</summary>
    Pending,
    Delivered,
    /// <summary>Every retry failed, or the target was refused; POST …/redeliver starts it again.</summary>
    Failed,
}

/// <summary>One HTTP attempt of a delivery: what the receiver answered and how long it took.</summary>
public sealed class WebhookAttempt
{
    public long Id { get; set; }

    public Guid DeliveryId { get; set; }

    /// <summary>1 for the first attempt.</summary>
    public int Number { get; set; }

    public DateTimeOffset AttemptedAt { get; set; }

    /// <summary>The receiver's status code; null when no response came (refused, timeout, connection error).</summary>
    public int? StatusCode { get; set; }

    public int LatencyMs { get; set; }

    public string? Error { get; set; }
}
