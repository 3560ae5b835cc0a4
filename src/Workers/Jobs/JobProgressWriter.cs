using Easel.Core;
using Easel.Core.Data;
using Easel.Core.Jobs;
using Easel.Core.Options;
using Microsoft.EntityFrameworkCore;

namespace Easel.Workers.Jobs;

/// <summary>
/// Writes step/total to the job row at most once per <c>ProgressInterval</c> (and always the last step, and always when an
/// extra event comes with it), with a progress event and the kind's extra events (a preview, a validation image), in one
/// transaction. The row is updated only while this claim holds and no cancel was requested; otherwise the watcher reads
/// the row at once and, if the run has ended, cancels it before the next step.
/// </summary>
public sealed class JobProgressWriter(EaselDbContext db, TimeProvider time, WorkerOptions options, Job job, RunningJobWatcher watcher)
{
    private long _lastWrite;

    /// <param name="detail">Extra members of the progress event (a fine-tune's loss, snake_case names), or null.</param>
    /// <param name="extra">Events written with this progress (type and body), e.g. a preview.</param>
    public void Report(int step, int total, IReadOnlyDictionary<string, object?>? detail = null,
        IReadOnlyList<(JobEventType Type, object Body)>? extra = null)
    {
        var now = time.GetTimestamp();
        if (extra is not { Count: > 0 } && step < total && _lastWrite != 0 && time.GetElapsedTime(_lastWrite, now) < options.ProgressInterval)
            return;
        _lastWrite = now;

        var at = time.GetUtcNowMilliseconds();
        var (id, attempt) = (job.Id, job.Attempts);
        using var transaction = db.Database.BeginTransaction();
        var updated = db.Jobs
            .Where(j => j.Id == id && j.Status == JobStatus.Running && j.Attempts == attempt && j.CancelRequestedAt == null)
            .ExecuteUpdate(s => s
                .SetProperty(j => j.ProgressStep, step)
                .SetProperty(j => j.ProgressTotal, total)
                .SetProperty(j => j.HeartbeatAt, at)); // progress is a sign of life too
        if (updated == 0)
        {
            transaction.Rollback();
            watcher.CheckNow(db);
            return;
        }
        job.ProgressStep = step;
        job.ProgressTotal = total;
        JobEventLog.Append(db, job, JobEventType.Progress, at, detail is null ? null : new Dictionary<string, object?>(detail)
        {
            ["id"] = job.Id,
            ["status"] = job.Status,
            ["step"] = step,
            ["total"] = total,
        });
        foreach (var (type, body) in extra ?? [])
            JobEventLog.Append(db, job, type, at, body);
        db.SaveChanges();
        transaction.Commit();
        db.ChangeTracker.Clear();
    }
}
