using Easel.Core;
using Easel.Core.Data;
using Easel.Core.Options;
using Easel.Core.Webhooks;
using Hangfire;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Easel.Workers.Webhooks;

/// <summary>
/// Moves due outbox messages (pending, next attempt ≤ now) onto the Hangfire "webhooks" queue. Woken by
/// <see cref="WebhookOutboxSignal"/> right after a local commit, and otherwise polls, which finds messages written by
/// other processes, retries that came due, and messages whose claim expired because a process died. A message is
/// claimed with a concurrency-token guarded update, so two dispatchers never enqueue one message for the same turn.
/// </summary>
public sealed class WebhookOutboxDispatcher(
    IServiceScopeFactory scopes,
    IBackgroundJobClient jobs,
    WebhookOutboxSignal signal,
    IOptions<WebhookOptions> options,
    TimeProvider time,
    ILogger<WebhookOutboxDispatcher> logger) : BackgroundService
{
    private const int BatchSize = 100;

    /// <summary>How long an enqueued message waits for a webhook worker before another dispatcher may enqueue it again.</summary>
    private static readonly TimeSpan QueuedLease = TimeSpan.FromMinutes(2);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            var claimed = 0;
            try
            {
                claimed = await DispatchDueAsync(stoppingToken);
                failures = 0;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The database or the queue storage is unreachable: the messages stay due and are found again.
                if (failures++ % 60 == 0)
                    logger.LogWarning(e, "The webhook outbox could not be dispatched; retrying");
            }
            if (claimed == BatchSize)
                continue;
            try
            {
                await signal.WaitAsync(options.Value.PollInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Claims and enqueues up to one batch of due messages; returns how many were claimed.</summary>
    public async Task<int> DispatchDueAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<EaselDbContext>();
        var now = time.GetUtcNowMilliseconds();
        var due = await db.WebhookDeliveries.AsNoTracking()
            .Where(d => d.Status == WebhookDeliveryStatus.Pending && d.NextAttemptAt <= now)
            .OrderBy(d => d.NextAttemptAt)
            .Take(BatchSize)
            .Select(d => new { d.Id, d.Version })
            .ToListAsync(cancellationToken);

        var claimed = 0;
        var leaseUntil = now + QueuedLease;
        foreach (var message in due)
        {
            var claim = Guid.NewGuid();
            var updated = await db.WebhookDeliveries
                .Where(d => d.Id == message.Id && d.Version == message.Version && d.Status == WebhookDeliveryStatus.Pending)
                .ExecuteUpdateAsync(s => s
                    .SetProperty(d => d.Version, claim)
                    .SetProperty(d => d.NextAttemptAt, leaseUntil), cancellationToken);
            if (updated == 0)
                continue; // another dispatcher took it, or it was redelivered meanwhile
            claimed++;
            var id = message.Id;
            jobs.Enqueue<WebhookSender>(WebhookSender.Queue, sender => sender.DeliverAsync(id, claim, CancellationToken.None));
        }
        return claimed;
    }
}
