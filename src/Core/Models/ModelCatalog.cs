using System.Diagnostics.CodeAnalysis;
using Easel.Core.Data;
using Easel.Core.Options;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Easel.Core.Models;

/// <summary>
/// The models requests may name, as the whole service knows them: those the live workers registered in the database (see
/// <see cref="WorkerRecord"/>) and those this process's own configuration describes (<see cref="ILocalModels"/>). What a
/// worker published wins over a local description of the same name, since the worker is what runs it.
/// </summary>
public interface IModelCatalog
{
    /// <summary>Every known model by name; <see cref="ModelInfo.Workers"/> lists who serves it now.</summary>
    IReadOnlyList<ModelInfo> Models { get; }

    /// <summary>The model used when a request names none; null when there is no default.</summary>
    string? DefaultModel { get; }

    bool TryGet(string name, [NotNullWhen(true)] out ModelInfo? model);

    /// <summary>Re-reads the worker registrations when the last read is older than <see cref="ModelCatalog.RefreshInterval"/>.</summary>
    Task RefreshAsync(CancellationToken cancellationToken);
}

/// <summary>The models this process's configuration (<c>Easel:Models</c>) describes, read from disk without loading them.</summary>
public interface ILocalModels
{
    IReadOnlyList<ModelInfo> Models { get; }

    /// <summary><c>Easel:DefaultModel</c>, or the only configured model.</summary>
    string? DefaultModel { get; }

    bool TryGet(string name, [NotNullWhen(true)] out ModelInfo? model);
}

/// <summary>
/// <see cref="IModelCatalog"/> over a snapshot of the <c>workers</c> and <c>worker_models</c> rows, re-read at most every
/// <see cref="RefreshInterval"/> (so a submit costs no extra query most of the time, and a worker that starts or dies is seen
/// within about a second plus its heartbeat timeout).
/// </summary>
public sealed class ModelCatalog(
    ILocalModels local,
    IOptions<ModelsOptions> configured,
    IOptions<WorkerOptions> workers,
    LocalWorkerRegistrations runningHere,
    IServiceScopeFactory scopes,
    TimeProvider time) : IModelCatalog
{
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(1);

    private sealed record Snapshot(IReadOnlyList<ModelInfo> Models, IReadOnlyDictionary<string, ModelInfo> ByName, string? DefaultModel,
        DateTimeOffset ReadAt);

    private Snapshot? _snapshot;
    private readonly SemaphoreSlim _refresh = new(1, 1);

    public IReadOnlyList<ModelInfo> Models => Current.Models;

    public string? DefaultModel => Current.DefaultModel;

    public bool TryGet(string name, [NotNullWhen(true)] out ModelInfo? model) => Current.ByName.TryGetValue(name, out model);

    private Snapshot Current => _snapshot ?? Combine([], DateTimeOffset.MinValue);

    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        if (_snapshot is { } fresh && time.GetUtcNow() - fresh.ReadAt < RefreshInterval)
            return;
        await _refresh.WaitAsync(cancellationToken);
        try
        {
            if (_snapshot is { } again && time.GetUtcNow() - again.ReadAt < RefreshInterval)
                return;
            var now = time.GetUtcNow();
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<EaselDbContext>();
            var registered = await db.Workers.AsNoTracking().Include(w => w.Models).ToListAsync(cancellationToken);
            _snapshot = Combine(registered, now);
        }
        finally
        {
            _refresh.Release();
        }
    }

    private Snapshot Combine(IReadOnlyList<WorkerRecord> registered, DateTimeOffset now)
    {
        var timeout = workers.Value.HeartbeatTimeout;
        var byName = new Dictionary<string, ModelInfo>(StringComparer.Ordinal);
        var workerDefaults = new HashSet<string>(StringComparer.Ordinal);
        foreach (var group in registered.SelectMany(w => w.Models.Select(m => (Worker: w, Model: m))).GroupBy(r => r.Model.Name))
        {
            var live = group.Where(r => runningHere.IsRunning(r.Worker.Id) || r.Worker.IsLive(now, timeout)).OrderBy(r => r.Worker.Id, StringComparer.Ordinal).ToList();
            // A live worker's description; else the latest one seen, so a model whose workers are all gone is still known.
            var source = live.Count > 0 ? live[0] : group.OrderByDescending(r => r.Worker.HeartbeatAt).First();
            byName[group.Key] = source.Model.ToInfo(live.Select(r => r.Worker.Id).ToList());
            if (live.Any(r => r.Model.IsDefault))
                workerDefaults.Add(group.Key);
        }
        foreach (var model in local.Models)
            byName.TryAdd(model.Name, model);

        var explicitDefault = configured.Value.DefaultModel;
        var defaultModel = !string.IsNullOrWhiteSpace(explicitDefault) ? explicitDefault
            : workerDefaults.Count == 1 ? workerDefaults.Single()
            : byName.Values.Count(m => m.Kind == ModelKind.Pipeline) == 1 ? byName.Values.Single(m => m.Kind == ModelKind.Pipeline).Name
            : local.DefaultModel;
        var models = byName.Values
            .Select(m => m with { IsDefault = m.Name == defaultModel })
            .OrderBy(m => m.Name, StringComparer.Ordinal)
            .ToList();
        return new Snapshot(models, models.ToDictionary(m => m.Name, StringComparer.Ordinal), defaultModel, now);
    }
}
