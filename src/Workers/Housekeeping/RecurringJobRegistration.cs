using Hangfire;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Easel.Workers.Housekeeping;

/// <summary>
/// Registers the recurring housekeeping jobs at start-up. AddOrUpdate is idempotent, so every process that runs jobs
/// registers them (an in-memory store forgets them on restart); Hangfire runs each occurrence once.
/// </summary>
internal sealed class RecurringJobRegistration(IRecurringJobManager recurring, IOptions<RetentionOptions> retention) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        recurring.AddOrUpdate<RetentionJob>(RetentionJob.RecurringJobId, WorkerQueues.Default,
            job => job.RunAsync(CancellationToken.None), retention.Value.Schedule, new RecurringJobOptions { TimeZone = TimeZoneInfo.Utc });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
