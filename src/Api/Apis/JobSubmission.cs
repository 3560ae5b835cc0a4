using Easel.Api.Auth;
using Easel.Api.Extensions;
using Easel.Core;
using Easel.Core.Data;
using Easel.Core.Jobs;
using Easel.Core.Telemetry;

namespace Easel.Api.Apis;

/// <summary>How every kind's endpoint turns a validated request into a queued job.</summary>
internal static class JobSubmission
{
    /// <summary>
    /// Writes the job row (owner, trace, options) with its queued event and, for idempotent endpoints, the key's record in
    /// one save, then hands the id to the queue. The row is committed before the queue hears of it, so a worker never
    /// picks up an id it cannot find; when the hand-over fails the row is removed again (the client sees a 500 and may
    /// retry) and no queued row is left that nothing would run.
    /// </summary>
    /// <returns>The queued job and the queue's id for it.</returns>
    public static async Task<(Job Job, string Queued)> EnqueueAsync<TRequest>(HttpContext http, EaselDbContext db, IJobDispatcher dispatcher,
        TimeProvider time, EaselMetrics metrics, JobKind kind, TRequest request, JobOptions? options, bool idempotent, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNowMilliseconds();
        var job = Job.Create(kind, request, now, http.GetOwner());
        job.TraceParent = EaselTracing.CurrentTraceParent();
        (options ?? JobOptions.Default).ApplyTo(job);
        db.Jobs.Add(job);
        JobEventLog.Append(db, job, JobEventType.Queued, now);
        if (idempotent)
            IdempotencyKeys.AddRecord(http, db, job);
        await db.SaveChangesAsync(cancellationToken);
        string queued;
        try
        {
            queued = dispatcher.Dispatch(job);
        }
        catch
        {
            db.Jobs.Remove(job);
            await db.SaveChangesAsync(CancellationToken.None);
            throw;
        }
        metrics.JobSubmitted(job.Kind);
        return (job, queued);
    }
}
