using Easel.Core;
using Easel.Core.Data;
using Easel.Core.Jobs;
using Easel.Core.Options;
using Easel.Workers.Generation;
using Easel.Workers.Jobs;
using Hangfire;
using Hangfire.States;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Easel.Workers.Recovery;

/// <summary>
/// Makes the database, not Hangfire, the source of truth for what must run. Every <c>RecoveryInterval</c>, in every
/// process that hosts a Hangfire server:
/// <list type="bullet">
/// <item>a running job whose heartbeat is older than <c>HeartbeatTimeout</c> lost its worker: it is queued again and
/// dispatched ahead of the waiting jobs (or failed once it has had <c>MaxAttempts</c> claims);</item>
/// <item>a queued job past its cancel_after is canceled;</item>
/// <item>a queued job whose Hangfire job is <c>Processing</c> on a server that is gone (not in Hangfire's server list, or
/// no server heartbeat for <c>HeartbeatTimeout</c>: the process was killed after it fetched the job, before it claimed
/// the row) is dispatched again ahead of the waiting jobs, instead of waiting for the storage's invisibility timeout;</item>
/// <item>a queued job that Hangfire does not carry (its Hangfire job is unknown — an in-memory store that restarted —
/// or finished while the row is still queued, or it was never dispatched, or it waits in a queue that is not its model's:
/// enqueued before jobs were routed by model, which no worker reads any more) is dispatched again.</item>
/// </list>
/// Each change is a conditional update on the row's version, so two sweepers in two processes never both act on one
/// job; a duplicate dispatch would be harmless anyway (the runner's claim lets one run through). When a job is
/// dispatched again, the Hangfire job that carried it to the lost worker is then deleted: Hangfire never moves a deleted job
/// to <c>Processing</c>, so when the storage hands it out again after its invisibility timeout, no worker runs it.
/// </summary>
public sealed class JobRecoverySweep(
    EaselDbContext db,
    IJobDispatcher dispatcher,
    JobStorage storage,
    TimeProvider time,
    IOptions<WorkerOptions> options,
    ILogger<JobRecoverySweep> logger)
{
    /// <summary>
    /// What one sweep did (for logs and tests). <paramref name="Redispatched"/> counts queued jobs dispatched again, of which
    /// <paramref name="TakenFromDeadServers"/> had been fetched by a server that is gone.
    /// </summary>
    public sealed record Outcome(int Requeued, int Failed, int Canceled, int Redispatched, int TakenFromDeadServers);

    public async Task<Outcome> RunOnceAsync(CancellationToken cancellationToken)
    {
        var (requeued, failed) = await RecoverLostRunsAsync(cancellationToken);
        var canceled = await CancelExpiredAsync(cancellationToken);
        var (redispatched, fromDeadServers) = await RedispatchUndeliveredAsync(cancellationToken);
        var outcome = new Outcome(requeued, failed, canceled, redispatched, fromDeadServers);
        if (outcome != new Outcome(0, 0, 0, 0, 0))
            logger.LogInformation("Recovery sweep: {Requeued} lost run(s) queued again, {Failed} failed after too many attempts, "
                + "{Canceled} canceled by cancel_after, {Redispatched} dispatched again ({FromDeadServers} fetched by a dead server)",
                requeued, failed, canceled, redispatched, fromDeadServers);
        return outcome;
    }

    private async Task<(int Requeued, int Failed)> RecoverLostRunsAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var staleBefore = time.GetUtcNowMilliseconds() - settings.HeartbeatTimeout;
        var lost = await db.Jobs.AsNoTracking()
            .Where(j => j.Status == JobStatus.Running && (j.HeartbeatAt ?? j.StartedAt) < staleBefore)
            .Select(j => j.Id)
            .ToListAsync(cancellationToken);
        var (requeued, failed) = (0, 0);
        foreach (var id in lost)
        {
            var gaveUp = false;
            var changed = await TransitionAsync(id, job => job.Status == JobStatus.Running && (job.HeartbeatAt ?? job.StartedAt) < staleBefore,
                job =>
                {
                    var worker = job.WorkerName ?? "an unknown worker";
                    if (job.Attempts >= settings.MaxAttempts)
                    {
                        gaveUp = true;
                        job.Status = JobStatus.Failed;
                        job.Error = $"The worker running this job stopped responding {job.Attempts} time(s) (last: {worker}); "
                            + $"giving up after {settings.MaxAttempts} attempts.";
                        job.FinishedAt = time.GetUtcNowMilliseconds();
                        return JobEventType.Failed;
                    }
                    logger.LogWarning("Job {JobId}: worker {Worker} stopped responding during attempt {Attempt}; queued again",
                        job.Id, worker, job.Attempts);
                    job.Status = JobStatus.Queued;
                    job.StartedAt = null;
                    job.ProgressStep = 0;
                    job.WorkerName = null;
                    job.HeartbeatAt = null;
                    // Dispatched just below: another sweeper leaves the row alone until its new Hangfire job is recorded.
                    job.DispatchedAt = time.GetUtcNowMilliseconds();
                    return JobEventType.Queued;
                }, cancellationToken);
            if (changed is null)
                continue;
            var stale = changed.DispatchId;
            if (gaveUp)
            {
                failed++;
            }
            else
            {
                dispatcher.DispatchAhead(changed);
                requeued++;
            }
            WithdrawStaleDelivery(stale, changed.Id, "its worker stopped sending heartbeats");
        }
        return (requeued, failed);
    }

    private async Task<int> CancelExpiredAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNowMilliseconds();
        var expired = await db.Jobs.AsNoTracking()
            .Where(j => j.Status == JobStatus.Queued && j.CancelAfter <= now)
            .Select(j => j.Id)
            .ToListAsync(cancellationToken);
        var canceled = 0;
        foreach (var id in expired)
        {
            var changed = await TransitionAsync(id, job => job.Status == JobStatus.Queued && job.CancelAfter <= now, job =>
            {
                job.Status = JobStatus.Canceled;
                job.Error = JobRunner.CancelAfterPassed;
                job.FinishedAt = now;
                return JobEventType.Canceled;
            }, cancellationToken);
            if (changed is not null)
                canceled++;
        }
        return canceled;
    }

    private async Task<(int Redispatched, int FromDeadServers)> RedispatchUndeliveredAsync(CancellationToken cancellationToken)
    {
        // A row dispatched more recently may be between its commit and its dispatch (in the API, or a sweeper that has just
        // queued a lost run again). A job fetched by a server that died is older than this by the time the death is seen.
        var settledBefore = time.GetUtcNowMilliseconds() - options.Value.HeartbeatTimeout;
        var queued = await db.Jobs.AsNoTracking()
            .Where(j => j.Status == JobStatus.Queued)
            .Select(j => new { j.Id, j.DispatchId, j.Version, j.DispatchedAt, j.CreatedAt, j.Kind, j.Model, j.Priority, Request = j.Kind == JobKind.Edit ? j.Request : "{}" })
            .ToListAsync(cancellationToken);
        if (queued.Count == 0)
            return (0, 0);
        var (redispatched, fromDeadServers) = (0, 0);
        using var connection = storage.GetConnection();
        foreach (var row in queued)
        {
            // An edit's queue depends on its request (Imagic's training goes to the train queue).
            var routed = new Job { Id = row.Id, Kind = row.Kind, Model = row.Model, Priority = row.Priority, Request = row.Request };
            var delivery = Delivery(connection, row.DispatchId,
                row.Model is null ? null : [WorkerQueues.ForJob(routed), WorkerQueues.ForRedelivery(routed)]);
            if (delivery.Carried || (row.DispatchedAt ?? row.CreatedAt) >= settledBefore)
                continue;
            var now = time.GetUtcNowMilliseconds();
            var version = row.Version;
            // The version guard makes this sweeper the only one that re-dispatches this row now.
            var claimed = await db.Jobs
                .Where(j => j.Id == row.Id && j.Status == JobStatus.Queued && j.Version == version)
                .ExecuteUpdateAsync(s => s.SetProperty(j => j.DispatchedAt, now).SetProperty(j => j.Version, Guid.NewGuid()),
                    cancellationToken);
            if (claimed == 0)
                continue;
            var job = await db.Jobs.AsNoTracking().SingleAsync(j => j.Id == row.Id, cancellationToken);
            var hangfireId = delivery.DeadServer is null ? dispatcher.Dispatch(job) : dispatcher.DispatchAhead(job);
            if (delivery.DeadServer is { } server)
                WithdrawStaleDelivery(row.DispatchId, row.Id, $"server {server}, which fetched it, is gone");
            if (delivery.UnreadQueue is { } unread)
                WithdrawStaleDelivery(row.DispatchId, row.Id, $"it waits in queue {unread}, which no worker reads");
            var reason = delivery.DeadServer is { } dead ? $"was fetched by server {dead}, which is gone"
                : delivery.UnreadQueue is { } queue ? $"waits in queue {queue}, not its model's"
                : row.DispatchId is null ? "was never created" : "is gone or finished";
            logger.LogWarning("Job {JobId} was queued but Hangfire job {Previous} {State}; dispatched again as {HangfireJobId}",
                job.Id, row.DispatchId ?? "(none)", reason, hangfireId);
            redispatched++;
            if (delivery.DeadServer is not null)
                fromDeadServers++;
        }
        return (redispatched, fromDeadServers);
    }

    private static readonly HashSet<string> FinalStates =
        new([SucceededState.StateName, DeletedState.StateName, FailedState.StateName], StringComparer.OrdinalIgnoreCase);

    /// <summary>What Hangfire does with a queued row's Hangfire job.</summary>
    /// <param name="Carried">it will deliver it: enqueued, scheduled, or processing on a live server</param>
    /// <param name="DeadServer">it is processing on this server, which is gone: no worker will run it before the
    /// storage's invisibility timeout</param>
    /// <param name="UnreadQueue">it is enqueued on this queue, which is not one of the job's (no worker listens to it)</param>
    private readonly record struct HangfireDelivery(bool Carried, string? DeadServer, string? UnreadQueue = null);

    private HangfireDelivery Delivery(Hangfire.Storage.IStorageConnection connection, string? dispatchId, string[]? jobQueues)
    {
        if (dispatchId is null)
            return new(false, null);
        var data = connection.GetJobData(dispatchId);
        if (data is null || (data.State is { } state && FinalStates.Contains(state)))
            return new(false, null);
        // Hangfire 1.8 enqueues on the job's own queue when it has one (what the dispatcher sets), else on the state's.
        if (string.Equals(data.State, EnqueuedState.StateName, StringComparison.OrdinalIgnoreCase) && jobQueues is not null
            && (data.Job?.Queue ?? StateQueue(connection, dispatchId)) is { } queue && !jobQueues.Contains(queue, StringComparer.Ordinal))
            return new(false, null, queue);
        if (!string.Equals(data.State, ProcessingState.StateName, StringComparison.OrdinalIgnoreCase))
            return new(true, null);
        var processing = connection.GetStateData(dispatchId);
        if (processing is null || !processing.Data.TryGetValue("ServerId", out var serverId) || IsAlive(serverId))
            return new(true, null);
        return new(false, serverId);
    }

    private static string? StateQueue(Hangfire.Storage.IStorageConnection connection, string dispatchId) =>
        connection.GetStateData(dispatchId)?.Data is { } data && data.TryGetValue("Queue", out var queue) ? queue : null;

    /// <summary>
    /// Whether the Hangfire server is in the storage's server list with a heartbeat younger than <c>HeartbeatTimeout</c>.
    /// The list is read after the job's state: a server announces itself before it fetches, so one that fetched this job
    /// is in the list unless it is gone. A server that sends no heartbeat for that long is taken for dead even if it
    /// still exists, as a job row without heartbeats is; its servers send one every <c>HeartbeatInterval</c>
    /// (<see cref="Hosting.HangfireServiceCollectionExtensions.ApplyServerLiveness"/>).
    /// </summary>
    private bool IsAlive(string serverId)
    {
        var server = storage.GetMonitoringApi().Servers()
            .FirstOrDefault(s => string.Equals(s.Name, serverId, StringComparison.OrdinalIgnoreCase));
        if (server?.Heartbeat is not { } heartbeat)
            return false;
        var age = time.GetUtcNow().UtcDateTime - DateTime.SpecifyKind(heartbeat, DateTimeKind.Utc);
        return age < options.Value.HeartbeatTimeout;
    }

    /// <summary>
    /// Deletes the Hangfire job that delivered this job to a lost worker, if it is still <c>Processing</c>, so that it
    /// cannot run later (Hangfire never moves a deleted job to Processing); a live worker that still holds it sees its
    /// cancellation token fire. Written straight through a storage transaction, not through Hangfire's state changer:
    /// that one first takes the job's state lock, and a process killed during a state change of this job (a sweeper
    /// killed while it withdrew it) leaves that lock behind for the storage's lock timeout, 10 min with
    /// Hangfire.PostgreSql, in which every sweep would wait on it.
    /// </summary>
    private void WithdrawStaleDelivery(string? dispatchId, Guid jobId, string reason)
    {
        if (dispatchId is null)
            return;
        try
        {
            using var connection = storage.GetConnection();
            // Processing on a lost server, or enqueued on a queue no worker reads; any other state has moved on meanwhile.
            if (connection.GetJobData(dispatchId)?.State is not { } state
                || !(state.Equals(ProcessingState.StateName, StringComparison.OrdinalIgnoreCase)
                     || state.Equals(EnqueuedState.StateName, StringComparison.OrdinalIgnoreCase)))
                return;
            using var transaction = connection.CreateWriteTransaction();
            transaction.SetJobState(dispatchId, new DeletedState { Reason = $"Easel job {jobId} was dispatched again: {reason}" });
            transaction.ExpireJob(dispatchId, StaleDeliveryKeptFor);
            transaction.Commit();
            logger.LogInformation("Job {JobId}: Hangfire job {HangfireJobId} deleted ({Reason})", jobId, dispatchId, reason);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The job is dispatched again already; should the stale delivery ever run, the runner's claim refuses it.
            logger.LogWarning(e, "Job {JobId}: could not delete its stale Hangfire job {HangfireJobId}", jobId, dispatchId);
        }
    }

    /// <summary>How long a deleted stale delivery stays readable in the storage (the dashboard), as Hangfire keeps finished jobs.</summary>
    private static readonly TimeSpan StaleDeliveryKeptFor = TimeSpan.FromDays(1);

    /// <summary>Re-reads the row, checks <paramref name="still"/>, applies the change with its event, saves on the version.</summary>
    private async Task<Job?> TransitionAsync(Guid id, Func<Job, bool> still, Func<Job, JobEventType> apply, CancellationToken cancellationToken)
    {
        db.ChangeTracker.Clear();
        var job = await db.Jobs.SingleOrDefaultAsync(j => j.Id == id, cancellationToken);
        if (job is null || !still(job))
            return null;
        var type = apply(job);
        job.Version = Guid.NewGuid();
        JobEventLog.Append(db, job, type, time.GetUtcNowMilliseconds());
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            return job;
        }
        catch (DbUpdateConcurrencyException)
        {
            return null; // another sweeper or the job's worker changed it first
        }
        finally
        {
            db.ChangeTracker.Clear();
        }
    }
}

/// <summary>Runs <see cref="JobRecoverySweep"/> every <c>Easel:Workers:RecoveryInterval</c> (first sweep at start-up).</summary>
public sealed class JobRecoveryService(IServiceScopeFactory scopes, IOptions<WorkerOptions> options, ILogger<JobRecoveryService> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.RecoveryInterval);
        do
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                await scope.ServiceProvider.GetRequiredService<JobRecoverySweep>().RunOnceAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogError(e, "Recovery sweep failed; trying again in {Interval}", options.Value.RecoveryInterval);
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
