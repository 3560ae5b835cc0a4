using System.Diagnostics;
using System.Diagnostics.Metrics;
using Easel.Core.Jobs;

namespace Easel.Core.Telemetry;

/// <summary>
/// The service's own instruments (meter <c>Easel</c>). Attributes are low-cardinality: kind, status, model, outcome.
/// Durations are in seconds with buckets up to an hour, since a job can take that long on a CPU.
/// </summary>
public sealed class EaselMetrics
{
    public const string MeterName = "Easel";

    private static readonly double[] JobBuckets = [0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300, 600, 1200, 2400, 3600];
    private static readonly double[] StepBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30];
    private static readonly double[] WebhookBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private readonly Counter<long> _submitted;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _finished;
    private readonly Counter<long> _images;
    private readonly Histogram<double> _queueWait;
    private readonly Histogram<double> _runTime;
    private readonly Histogram<double> _stepTime;
    private readonly Counter<long> _webhookAttempts;
    private readonly Histogram<double> _webhookLatency;

    public EaselMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _submitted = meter.CreateCounter<long>("easel.jobs.submitted", "{job}", "Jobs accepted by the API.");
        _rejected = meter.CreateCounter<long>("easel.jobs.rejected", "{job}", "Requests refused by validation.");
        _finished = meter.CreateCounter<long>("easel.jobs.finished", "{job}", "Jobs that reached a final status.");
        _images = meter.CreateCounter<long>("easel.images.generated", "{image}", "Images stored.");
        _queueWait = meter.CreateHistogram("easel.job.queue_wait", "s", "Time from submission to a worker claiming the job.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = JobBuckets });
        _runTime = meter.CreateHistogram("easel.job.duration", "s", "Time a worker spent on a job, model load included.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = JobBuckets });
        _stepTime = meter.CreateHistogram("easel.denoise.step.duration", "s", "Time of one denoising step.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = StepBuckets });
        _webhookAttempts = meter.CreateCounter<long>("easel.webhook.attempts", "{attempt}",
            "Webhook delivery attempts by outcome (delivered, retry, failed) and status class (2xx … 5xx, none).");
        _webhookLatency = meter.CreateHistogram("easel.webhook.duration", "s", "Time from sending a webhook to the receiver's answer or the failure.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = WebhookBuckets });
    }

    public void JobSubmitted(JobKind kind) => _submitted.Add(1, Tag("kind", kind));

    public void RequestRejected(JobKind kind) => _rejected.Add(1, Tag("kind", kind));

    public void JobStarted(JobKind kind, TimeSpan queueWait) => _queueWait.Record(queueWait.TotalSeconds, Tag("kind", kind));

    public void JobFinished(JobKind kind, JobStatus status, string model, TimeSpan runTime)
    {
        var tags = new TagList { { "kind", Snake(kind) }, { "status", Snake(status) }, { "model", model } };
        _finished.Add(1, tags);
        _runTime.Record(runTime.TotalSeconds, tags);
    }

    public void ImagesStored(string model, int count) => _images.Add(count, new KeyValuePair<string, object?>("model", model));

    public void DenoisingStep(string model, TimeSpan duration) =>
        _stepTime.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("model", model));

    /// <summary>One webhook attempt: <paramref name="outcome"/> is delivered, retry or failed; the status class "none" when no response came.</summary>
    public void WebhookAttempted(string outcome, int? statusCode, TimeSpan latency)
    {
        var tags = new TagList { { "outcome", outcome }, { "status_class", statusCode is { } code ? $"{code / 100}xx" : "none" } };
        _webhookAttempts.Add(1, tags);
        _webhookLatency.Record(latency.TotalSeconds, tags);
    }

    private static KeyValuePair<string, object?> Tag<TEnum>(string name, TEnum value) where TEnum : struct, Enum =>
        new(name, Snake(value));

    private static string Snake<TEnum>(TEnum value) where TEnum : struct, Enum => value.ToString().ToLowerInvariant();
}
