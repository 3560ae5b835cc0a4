using Easel.Core.Data;
using Easel.Core.Models;
using Microsoft.EntityFrameworkCore;

namespace Easel.Core.Jobs;

/// <summary>
/// Where a queued job stands: 1 = next to run; the estimated time it finishes, or null without history; what it waits
/// for when no live worker serves its model (then no ETA).
/// </summary>
public sealed record JobQueueInfo(int Position, DateTimeOffset? Eta, string? WaitingFor = null);

/// <summary>
/// Queue position and ETA of queued jobs. Jobs of one kind share one queue, ordered by priority (higher first), then
/// age (older first), then id. The ETA is an estimate of when the job finishes:
/// now + (remaining time of the running jobs + jobs ahead × mean run time) / max(1, running jobs) + the job's own mean
/// run time. Mean run times are the mean of finished_at − started_at over the last <see cref="HistorySize"/> succeeded
/// jobs of the kind (for the job itself, of its model when that history has any); a running job's remaining time is the
/// mean minus its elapsed time, at least 0. Without succeeded jobs of the kind the ETA is null.
/// </summary>
public static class JobQueue
{
    public const int HistorySize = 20;

    private sealed record History(TimeSpan Mean, IReadOnlyDictionary<string, TimeSpan> MeanByModel);

    /// <summary>
    /// The queue info of every queued job in <paramref name="jobs"/>, keyed by job id; with <paramref name="catalog"/>, jobs
    /// whose model no live worker serves say so.
    /// </summary>
    public static async Task<IReadOnlyDictionary<Guid, JobQueueInfo>> DescribeAsync(
        EaselDbContext db, IReadOnlyCollection<Job> jobs, DateTimeOffset now, CancellationToken cancellationToken,
        IModelCatalog? catalog = null)
    {
        var result = new Dictionary<Guid, JobQueueInfo>();
        foreach (var group in jobs.Where(j => j.Status == JobStatus.Queued).GroupBy(j => j.Kind))
        {
            var kind = group.Key;
            var positions = new Dictionary<Guid, int>();
            if (group.Count() == 1)
            {
                var job = group.Single();
                positions[job.Id] = await Ahead(db, job).CountAsync(cancellationToken) + 1;
            }
            else
            {
                // One read of the queue's ordering keys instead of a count per job (a list page may hold many queued jobs).
                var queue = await db.Jobs.AsNoTracking()
                    .Where(j => j.Kind == kind && j.Status == JobStatus.Queued)
                    .Select(j => new { j.Id, j.Priority, j.CreatedAt })
                    .ToListAsync(cancellationToken);
                var ordered = queue
                    .OrderByDescending(j => j.Priority)
                    .ThenBy(j => j.CreatedAt)
                    .ThenBy(j => j.Id.ToString(), StringComparer.Ordinal)
                    .Select((j, index) => (j.Id, Position: index + 1))
                    .ToDictionary(j => j.Id, j => j.Position);
                foreach (var job in group)
                    positions[job.Id] = ordered.GetValueOrDefault(job.Id, 1);
            }

            var history = await HistoryAsync(db, kind, cancellationToken);
            var running = history is null
                ? []
                : await db.Jobs.AsNoTracking()
                    .Where(j => j.Kind == kind && j.Status == JobStatus.Running && j.StartedAt != null)
                    .Select(j => j.StartedAt!.Value)
                    .ToListAsync(cancellationToken);
            foreach (var job in group)
            {
                var position = positions[job.Id];
                DateTimeOffset? eta = null;
                if (history is not null)
                {
                    var remainingOfRunning = running.Sum(started => Math.Max(0, (history.Mean - (now - started)).TotalSeconds));
                    var own = job.Model is { } model && history.MeanByModel.TryGetValue(model, out var byModel) ? byModel : history.Mean;
                    var wait = (remainingOfRunning + (position - 1) * history.Mean.TotalSeconds) / Math.Max(1, running.Count);
                    eta = now + TimeSpan.FromSeconds(wait) + own;
                    eta = eta.Value.AddTicks(-(eta.Value.Ticks % TimeSpan.TicksPerMillisecond));
                }
                result[job.Id] = catalog is not null && job.Model is { } name && catalog.TryGet(name, out var info) && !info.IsServed
                    ? new JobQueueInfo(position, null, $"a worker serving model '{name}': no live worker serves it now")
                    : new JobQueueInfo(position, eta);
            }
        }
        return result;
    }

    /// <summary>The queue info of one job, or null when it is not queued.</summary>
    public static async Task<JobQueueInfo?> DescribeAsync(EaselDbContext db, Job job, DateTimeOffset now, CancellationToken cancellationToken,
        IModelCatalog? catalog = null) =>
        (await DescribeAsync(db, [job], now, cancellationToken, catalog)).GetValueOrDefault(job.Id);

    /// <summary>Queued jobs of the same queue that run before <paramref name="job"/>.</summary>
    private static IQueryable<Job> Ahead(EaselDbContext db, Job job)
    {
        var (kind, id, priority, created) = (job.Kind, job.Id, job.Priority, job.CreatedAt);
        return db.Jobs.Where(j => j.Kind == kind && j.Status == JobStatus.Queued && j.Id != id
            && (j.Priority > priority
                || (j.Priority == priority && (j.CreatedAt < created || (j.CreatedAt == created && j.Id.CompareTo(id) < 0)))));
    }

    private static async Task<History?> HistoryAsync(EaselDbContext db, JobKind kind, CancellationToken cancellationToken)
    {
        var recent = await db.Jobs.AsNoTracking()
            .Where(j => j.Kind == kind && j.Status == JobStatus.Succeeded && j.StartedAt != null && j.FinishedAt != null)
            .OrderByDescending(j => j.FinishedAt)
            .Take(HistorySize)
            .Select(j => new { Started = j.StartedAt!.Value, Finished = j.FinishedAt!.Value, j.Model })
            .ToListAsync(cancellationToken);
        if (recent.Count == 0)
            return null;
        var runs = recent.Select(r => (r.Model, Seconds: Math.Max(0, (r.Finished - r.Started).TotalSeconds))).ToList();
        return new History(
            TimeSpan.FromSeconds(runs.Average(r => r.Seconds)),
            runs.Where(r => r.Model is not null)
                .GroupBy(r => r.Model!)
                .ToDictionary(g => g.Key, g => TimeSpan.FromSeconds(g.Average(r => r.Seconds))));
    }
}
