using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Easel.Core.Jobs;

/// <summary>
/// In-process wake-ups for callers waiting on a job (<c>Prefer: wait</c>): <see cref="Interceptor"/> signals after any
/// SaveChanges of this process that leaves a tracked job finished. It is only a shortcut: waiters still poll the row,
/// because a worker in another process (or a finishing write done with ExecuteUpdate) signals nothing here.
/// </summary>
public sealed class JobCompletionSignal
{
    private readonly ConcurrentDictionary<Guid, TaskCompletionSource> _waiting = new();

    /// <summary>A task that completes at the next signal for <paramref name="jobId"/>; pass it to <see cref="Forget"/> when done.</summary>
    public Task Next(Guid jobId) =>
        _waiting.GetOrAdd(jobId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    /// <summary>Drops a waiter's registration, unless a signal already replaced it.</summary>
    public void Forget(Guid jobId, Task next)
    {
        if (_waiting.TryGetValue(jobId, out var source) && source.Task == next)
            _waiting.TryRemove(new KeyValuePair<Guid, TaskCompletionSource>(jobId, source));
    }

    public void Notify(Guid jobId)
    {
        if (_waiting.TryRemove(jobId, out var source))
            source.TrySetResult();
    }

    /// <summary>Signals the finished jobs a context has just saved.</summary>
    public sealed class Interceptor(JobCompletionSignal signal) : SaveChangesInterceptor
    {
        public override int SavedChanges(SaveChangesCompletedEventData eventData, int result)
        {
            NotifyFinished(eventData.Context);
            return result;
        }

        public override ValueTask<int> SavedChangesAsync(SaveChangesCompletedEventData eventData, int result, CancellationToken cancellationToken = default)
        {
            NotifyFinished(eventData.Context);
            return ValueTask.FromResult(result);
        }

        private void NotifyFinished(DbContext? context)
        {
            if (context is null)
                return;
            foreach (var entry in context.ChangeTracker.Entries<Job>())
                if (entry.Entity.IsFinished)
                    signal.Notify(entry.Entity.Id);
        }
    }
}
