using Easel.Core;
using Easel.Core.Data;
using Easel.Core.Jobs;
using Easel.Workers.Jobs;
using Hangfire;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Easel.Workers.Jobs;

/// <summary>
/// Enqueues jobs in Hangfire, carrying only the job id, on the queue of the job's model and priority band
/// (<see cref="WorkerQueues.ForJob"/>), and records the
/// Hangfire job id and time on the row (the recovery sweep compares them with Hangfire's storage).
/// </summary>
public sealed class HangfireJobDispatcher(IBackgroundJobClient client, IServiceScopeFactory scopes, TimeProvider time) : IJobDispatcher
{
    public string Dispatch(Job job) => Enqueue(job, WorkerQueues.ForJob(job));

    public string DispatchAhead(Job job) => Enqueue(job, WorkerQueues.ForRedelivery(job));

    private string Enqueue(Job job, string queue)
    {
        // One entry point for every kind: the runner reads the kind from the row.
        var id = client.Enqueue<JobRunner>(queue, runner => runner.RunAsync(job.Id, CancellationToken.None));
        var now = time.GetUtcNowMilliseconds();
        job.DispatchId = id;
        job.DispatchedAt = now;
        // Not a state transition (the version stays): the row only learns which Hangfire job carries it.
        using var scope = scopes.CreateScope();
        scope.ServiceProvider.GetRequiredService<EaselDbContext>().Jobs
            .Where(j => j.Id == job.Id)
            .ExecuteUpdate(s => s.SetProperty(j => j.DispatchId, id).SetProperty(j => j.DispatchedAt, now));
        return id;
    }
}
