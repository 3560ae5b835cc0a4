using System.Diagnostics.Metrics;
using Easel.Core.Data;
using Easel.Core.Jobs;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Easel.Core.Telemetry;

/// <summary>
/// <c>easel.queue.depth</c> (queued jobs) and <c>easel.jobs.running</c> by kind, read from the jobs table: the database is
/// the source of truth, so every process reports the same global numbers (aggregate with max, not sum). One grouped
/// count over the (status, created_at) index, at most once per <see cref="RefreshInterval"/> however often it is scraped.
/// A hosted service only so that the host creates it at start-up; it has nothing to run.
/// </summary>
public sealed class JobGauges : IHostedService
{
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(5);

    private readonly IServiceScopeFactory _scopes;
    private readonly TimeProvider _time;
    private readonly ILogger<JobGauges> _logger;
    private readonly Lock _lock = new();
    private IReadOnlyList<(JobKind Kind, JobStatus Status, int Count)> _counts = [];
    private long _readAt;

    public JobGauges(IMeterFactory meterFactory, IServiceScopeFactory scopes, TimeProvider time, ILogger<JobGauges> logger)
    {
        _scopes = scopes;
        _time = time;
        _logger = logger;
        var meter = meterFactory.Create(EaselMetrics.MeterName);
        meter.CreateObservableGauge("easel.queue.depth", () => Measure(JobStatus.Queued), "{job}", "Jobs waiting for a worker.");
        meter.CreateObservableGauge("easel.jobs.running", () => Measure(JobStatus.Running), "{job}", "Jobs a worker is running.");
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private IEnumerable<Measurement<long>> Measure(JobStatus status)
    {
        var counts = Read();
        // Every kind is reported, zeros included, so that a drained queue shows 0 rather than a stale last value.
        return Enum.GetValues<JobKind>().Select(kind => new Measurement<long>(
            counts.Where(c => c.Kind == kind && c.Status == status).Sum(c => (long)c.Count),
            [new KeyValuePair<string, object?>("kind", kind.ToString().ToLowerInvariant())]));
    }

    private IReadOnlyList<(JobKind Kind, JobStatus Status, int Count)> Read()
    {
        lock (_lock)
        {
            if (_readAt != 0 && _time.GetElapsedTime(_readAt) < RefreshInterval)
                return _counts;
            try
            {
                using var scope = _scopes.CreateScope();
                var db = scope.ServiceProvider.GetRequiredService<EaselDbContext>();
                _counts = db.Jobs
                    .Where(j => j.Status == JobStatus.Queued || j.Status == JobStatus.Running)
                    .GroupBy(j => new { j.Kind, j.Status })
                    .Select(g => new { g.Key.Kind, g.Key.Status, Count = g.Count() })
                    .AsEnumerable()
                    .Select(g => (g.Kind, g.Status, g.Count))
                    .ToList();
            }
            catch (Exception e)
            {
                // A scrape must not fail because the database is away; /readyz reports that.
                _logger.LogWarning(e, "Could not count queued and running jobs for the queue gauges");
            }
            _readAt = _time.GetTimestamp();
            return _counts;
        }
    }
}
