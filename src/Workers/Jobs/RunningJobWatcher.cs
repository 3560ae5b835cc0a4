using System.Linq.Expressions;
using Easel.Core;
using Easel.Core.Data;
using Easel.Core.Jobs;
using Easel.Core.Options;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Easel.Workers.Jobs;

/// <summary>
/// Runs beside a claimed job: writes the worker's heartbeat every <c>HeartbeatInterval</c> and reads the row every
/// <c>CancelPollInterval</c>. A cancel request, a passed cancel_after or a claim that is gone (the status changed, or
/// the recovery sweep gave the job to another attempt) cancels the run's token, and the pipeline stops before its next
/// step. The database is the only channel, so a cancel from any process works. The poll uses its own database context
/// (the runner's is busy on the denoising thread); the progress writer, whose guarded update is refused once the run
/// has ended, checks at once on its own (<see cref="CheckNow"/>), so such a run never takes another step.
/// </summary>
public sealed class RunningJobWatcher : IAsyncDisposable
{
    /// <summary>The columns that decide whether the run may go on.</summary>
    private static readonly Expression<Func<Job, WatchedRow>> RowState =
        j => new WatchedRow(j.Status, j.Attempts, j.CancelRequestedAt, j.CancelAfter);

    private readonly IServiceScopeFactory _scopes;
    private readonly TimeProvider _time;
    private readonly WorkerOptions _options;
    private readonly Guid _jobId;
    private readonly int _attempt;
    private readonly CancellationTokenSource _run;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _done = new();
    private Task _loop = Task.CompletedTask;
    private volatile WatcherStop? _stop;

    private RunningJobWatcher(IServiceScopeFactory scopes, TimeProvider time, WorkerOptions options, Guid jobId, int attempt,
        CancellationTokenSource run, ILogger logger)
    {
        _scopes = scopes;
        _time = time;
        _options = options;
        _jobId = jobId;
        _attempt = attempt;
        _run = run;
        _logger = logger;
    }

    /// <summary>Why the run was stopped; null while it may go on.</summary>
    public WatcherStop? Stop => _stop;

    /// <param name="attempt">The claim being watched: the row's attempt count when this worker claimed it.</param>
    public static RunningJobWatcher Start(IServiceScopeFactory scopes, TimeProvider time, WorkerOptions options, Guid jobId, int attempt,
        CancellationTokenSource run, ILogger logger)
    {
        var watcher = new RunningJobWatcher(scopes, time, options, jobId, attempt, run, logger);
        watcher._loop = Task.Run(watcher.LoopAsync);
        return watcher;
    }

    /// <summary>
    /// Looks at the row now, on the caller's thread and database context: the progress writer found that the row no
    /// longer takes this run's progress, and the run must stop before its next step rather than at the next poll.
    /// </summary>
    public void CheckNow(EaselDbContext db)
    {
        if (Decide(db.Jobs.AsNoTracking().Where(j => j.Id == _jobId).Select(RowState).SingleOrDefault()) is { } stop)
        {
            _stop = stop;
            _run.Cancel();
        }
    }

    private WatcherStop? Decide(WatchedRow? row) => row switch
    {
        null => new WatcherStop(null, "the job was deleted"),
        _ when row.Status != JobStatus.Running || row.Attempts != _attempt =>
            new WatcherStop(null, $"the job is {row.Status.ToString().ToLowerInvariant()}, attempt {row.Attempts}"),
        _ when row.CancelRequestedAt is not null => new WatcherStop(JobRunner.CanceledByClient, "cancel requested"),
        _ when row.CancelAfter <= _time.GetUtcNow() => new WatcherStop(JobRunner.CancelAfterPassed, "deadline"),
        _ => null,
    };

    private async Task LoopAsync()
    {
        var lastHeartbeat = _time.GetTimestamp();
        while (!_done.IsCancellationRequested && _stop is null)
        {
            try
            {
                await Task.Delay(_options.CancelPollInterval, _done.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            try
            {
                await using var scope = _scopes.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<EaselDbContext>();
                if (_time.GetElapsedTime(lastHeartbeat) >= _options.HeartbeatInterval)
                {
                    var now = _time.GetUtcNowMilliseconds();
                    await db.Jobs
                        .Where(j => j.Id == _jobId && j.Status == JobStatus.Running && j.Attempts == _attempt)
                        .ExecuteUpdateAsync(s => s
                            .SetProperty(j => j.HeartbeatAt, now)
                            .SetProperty(j => j.WorkerName, JobRunner.WorkerName), _done.Token);
                    lastHeartbeat = _time.GetTimestamp();
                }
                var stop = Decide(await db.Jobs.AsNoTracking().Where(j => j.Id == _jobId).Select(RowState).SingleOrDefaultAsync(_done.Token));
                if (stop is not null)
                {
                    _stop = stop;
                    await _run.CancelAsync();
                }
            }
            catch (OperationCanceledException) when (_done.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // A database hiccup must not stop the job; the next poll tries again (a long outage ends in a stale heartbeat).
                _logger.LogWarning(e, "Watching job {JobId} failed; retrying", _jobId);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _done.CancelAsync();
        await _loop;
        _done.Dispose();
    }
}

/// <summary>Why a run stopped: <paramref name="CancelReason"/> is the job's error when the job is to be marked canceled;
/// null when the claim is gone and the row is someone else's to write.</summary>
public sealed record WatcherStop(string? CancelReason, string Detail);

internal sealed record WatchedRow(JobStatus Status, int Attempts, DateTimeOffset? CancelRequestedAt, DateTimeOffset? CancelAfter);
