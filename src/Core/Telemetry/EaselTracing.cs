using System.Diagnostics;
using Easel.Core.Jobs;

namespace Easel.Core.Telemetry;

/// <summary>
/// The service's spans (activity source <c>Easel</c>). The API stores the request's W3C traceparent on the job and the
/// worker starts its <c>job</c> span under it, so one trace runs from the HTTP request into the job, across processes.
/// </summary>
public static class EaselTracing
{
    public const string SourceName = "Easel";

    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>The traceparent to store on a new job: the current span's W3C id, or null outside a trace.</summary>
    public static string? CurrentTraceParent() =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C } current ? current.Id : null;

    /// <summary>
    /// The span of one delivery of a job, a child of the request that created it (<see cref="Job.TraceParent"/>), or a
    /// root when the job has none; null when nobody listens.
    /// </summary>
    public static Activity? StartJob(Job job)
    {
        var tags = new KeyValuePair<string, object?>[]
        {
            new("easel.job.id", job.Id.ToString()),
            new("easel.job.kind", job.Kind.ToString().ToLowerInvariant()),
            new("easel.job.attempt", job.Attempts + 1),
        };
        return ActivityContext.TryParse(job.TraceParent, null, out var parent)
            ? Source.StartActivity("job", ActivityKind.Consumer, parent, tags)
            : Source.StartActivity("job", ActivityKind.Consumer, default(ActivityContext), tags);
    }
}
