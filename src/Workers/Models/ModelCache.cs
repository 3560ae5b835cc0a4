using Easel.Core.Models;
using Easel.Core.Options;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Easel.Workers.Models;

/// <summary>
/// Keeps loaded models by name so that a worker loads each model once. Holds at most
/// <c>Easel:Workers:MaxLoadedModels</c> models; loading another evicts the least recently used one that no job is
/// using (a model in use is disposed when its last lease ends).
/// </summary>
public sealed class ModelCache(
    ILocalModels catalog,
    IGenerationModelLoader loader,
    IOptions<WorkerOptions> options,
    ILogger<ModelCache> logger) : IDisposable
{
    private readonly Lock _gate = new();
    private readonly LinkedList<Entry> _entries = new(); // most recently used first
    private bool _disposed;

    /// <summary>How many times a model was loaded from disk (for logs and tests).</summary>
    public int LoadCount { get; private set; }

    /// <summary>Returns a lease on the named model, loading it first if needed. Dispose the lease when done.</summary>
    /// <exception cref="ArgumentException">The model is not configured.</exception>
    public ModelLease Acquire(string name)
    {
        if (!catalog.TryGet(name, out var info))
            throw new ArgumentException($"Model '{name}' is not configured on this worker.", nameof(name));
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var node = _entries.First;
            while (node is not null && node.Value.Name != name)
                node = node.Next;
            if (node is null)
            {
                EvictFor(options.Value.MaxLoadedModels - 1);
                logger.LogInformation("Loading model {Model} ({Family}) from {Path}", info.Name, info.Family, info.Path);
                var started = TimeProvider.System.GetTimestamp();
                var model = loader.Load(info);
                LoadCount++;
                logger.LogInformation("Loaded model {Model} in {Seconds:F1} s", info.Name, TimeProvider.System.GetElapsedTime(started).TotalSeconds);
                node = new LinkedListNode<Entry>(new Entry(name, model));
            }
            else
            {
                _entries.Remove(node);
            }
            _entries.AddFirst(node);
            node.Value.Leases++;
            return new ModelLease(this, node.Value);
        }
    }

    private void EvictFor(int keep)
    {
        var node = _entries.Last;
        while (_entries.Count > Math.Max(keep, 0) && node is not null)
        {
            var previous = node.Previous;
            _entries.Remove(node);
            node.Value.Evicted = true;
            logger.LogInformation("Unloading model {Model}", node.Value.Name);
            if (node.Value.Leases == 0)
                node.Value.Model.Dispose();
            node = previous;
        }
    }

    private void Release(Entry entry)
    {
        lock (_gate)
        {
            entry.Leases--;
            if (entry.Leases == 0 && entry.Evicted)
                entry.Model.Dispose();
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            foreach (var entry in _entries)
                entry.Model.Dispose();
            _entries.Clear();
        }
    }

    internal sealed class Entry(string name, IGenerationModel model)
    {
        public string Name { get; } = name;
        public IGenerationModel Model { get; } = model;
        public int Leases { get; set; }
        public bool Evicted { get; set; }
    }

    /// <summary>A model in use; the cache will not dispose it before the lease ends.</summary>
    public sealed class ModelLease : IDisposable
    {
        private ModelCache? _cache;
        private readonly Entry _entry;

        internal ModelLease(ModelCache cache, Entry entry)
        {
            _cache = cache;
            _entry = entry;
        }

        public IGenerationModel Model => _entry.Model;

        public void Dispose()
        {
            Interlocked.Exchange(ref _cache, null)?.Release(_entry);
        }
    }
}
