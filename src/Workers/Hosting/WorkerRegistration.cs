using Easel.Core;
using Easel.Core.Data;
using Easel.Core.Models;
using Easel.Core.Options;
using Easel.Workers.Generation;
using Easel.Workers.Jobs;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Easel.Workers.Hosting;

/// <summary>
/// Publishes this worker and the models it serves in the database (<see cref="WorkerRecord"/>), so that every API process
/// can validate, default and route requests for them without loading them: the row is written before the device server
/// takes its first job, its heartbeat renewed every <c>Easel:Workers:HeartbeatInterval</c>, and it is marked stopped on a
/// clean shutdown. A worker that died without saying so stops counting once its heartbeat is older than
/// <c>HeartbeatTimeout</c>. Rows not heard from for <see cref="ForgetAfter"/> are removed.
/// </summary>
public sealed class WorkerRegistration(
    IServiceScopeFactory scopes,
    ILocalModels models,
    LocalWorkerRegistrations runningHere,
    IOptions<WorkerOptions> options,
    TimeProvider time,
    ILogger<WorkerRegistration> logger,
    string role) : IHostedService, IAsyncDisposable
{
    /// <summary>How long the rows of a worker that stopped or vanished are kept (they still describe its models).</summary>
    public static readonly TimeSpan ForgetAfter = TimeSpan.FromDays(7);

    private readonly CancellationTokenSource _stopping = new();
    private int _stopped;
    private Task? _heartbeats;

    /// <summary>
    /// The id of this registration's row: the name running jobs record as their worker (<c>host:pid</c>) and a suffix of
    /// its own, so that two hosts in one process (test hosts; an API beside a worker) never take each other's row.
    /// </summary>
    public string WorkerId { get; } = $"{JobRunner.WorkerName}:{Guid.NewGuid().ToString("N")[..8]}";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await RegisterAsync(cancellationToken);
        runningHere.Started(WorkerId);
        logger.LogInformation("Registered worker {Worker} serving {Models}", WorkerId, string.Join(", ", models.Models.Select(m => m.Name)));
        _heartbeats = BeatAsync(_stopping.Token);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // A host may stop its services again after disposing them (WebApplicationFactory's Dispose after DisposeAsync):
        // only the first stop marks the worker stopped.
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
            return;
        runningHere.Stopping(WorkerId);
        await _stopping.CancelAsync();
        if (_heartbeats is not null)
            await _heartbeats;
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var now = time.GetUtcNowMilliseconds();
            await scope.ServiceProvider.GetRequiredService<EaselDbContext>().Workers
                .Where(w => w.Id == WorkerId)
                .ExecuteUpdateAsync(s => s.SetProperty(w => w.StoppedAt, now).SetProperty(w => w.HeartbeatAt, now), cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The heartbeat then simply goes stale: the API stops counting this worker after HeartbeatTimeout.
            logger.LogWarning(e, "Could not mark worker {Worker} stopped", WorkerId);
        }
    }

    /// <summary>Writes this registration's rows, and removes those not heard from for <see cref="ForgetAfter"/>.</summary>
    private async Task RegisterAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<EaselDbContext>();
        var now = time.GetUtcNowMilliseconds();
        var forgotten = now - ForgetAfter;
        await db.Workers.Where(w => w.Id == WorkerId || w.HeartbeatAt < forgotten).ExecuteDeleteAsync(cancellationToken);
        db.Workers.Add(new WorkerRecord
        {
            Id = WorkerId,
            Role = role,
            Device = options.Value.Device,
            Queues = string.Join(",", WorkerQueues.Device(models.Models.Select(m => m.Name))),
            StartedAt = now,
            HeartbeatAt = now,
            Models = [.. models.Models.Select(m => WorkerModel.From(WorkerId, m))],
        });
        await db.SaveChangesAsync(cancellationToken);
    }

    private async Task BeatAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(options.Value.HeartbeatInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                try
                {
                    await using var scope = scopes.CreateAsyncScope();
                    var now = time.GetUtcNowMilliseconds();
                    var updated = await scope.ServiceProvider.GetRequiredService<EaselDbContext>().Workers
                        .Where(w => w.Id == WorkerId)
                        .ExecuteUpdateAsync(s => s.SetProperty(w => w.HeartbeatAt, now).SetProperty(w => w.StoppedAt, (DateTimeOffset?)null), stopping);
                    if (updated == 0)
                        await RegisterAsync(stopping); // removed meanwhile (another process pruned it after a long stall)
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning(e, "Worker heartbeat failed; retrying in {Interval}", options.Value.HeartbeatInterval);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public ValueTask DisposeAsync()
    {
        _stopping.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>Start-up check that no two configured models share a queue name once folded (<see cref="WorkerQueues.Fold"/>).</summary>
public sealed class ModelQueueNameValidation : IValidateOptions<ModelsOptions>
{
    public ValidateOptionsResult Validate(string? name, ModelsOptions options)
    {
        var clashes = options.Models.Keys
            .GroupBy(WorkerQueues.Fold)
            .Where(g => g.Count() > 1)
            .Select(g => $"Easel:Models:{string.Join(" and Easel:Models:", g.Order(StringComparer.Ordinal))} share the queue name "
                + $"'{WorkerQueues.ForGeneration(g.Key, 0)}' (names are folded to [a-z0-9_]); rename one.")
            .ToList();
        return clashes.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(clashes);
    }
}
