using Easel.Core.Models;
using Easel.Core.Options;
using Easel.Inference.Control.ControlNet;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Easel.Workers.Models;

/// <summary>
/// Keeps loaded models by name so that a worker loads each model once: pipelines and the control models requests add to
/// them. Holds at most <c>Easel:Workers:MaxLoadedModels</c> pipelines and <c>MaxLoadedControlModels</c> control models;
/// loading another evicts the least recently used one of its kind (a model in use is disposed when its last lease ends).
/// </summary>
public sealed class ModelCache(
    ILocalModels catalog,
    IGenerationModelLoader loader,
    IControlModelLoader controlLoader,
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
                EvictFor(info.Kind, (info.Kind == ModelKind.Pipeline ? options.Value.MaxLoadedModels : options.Value.MaxLoadedControlModels) - 1);
                logger.LogInformation("Loading model {Model} ({Family}) from {Path}", info.Name, info.Family, info.Path);
                var started = TimeProvider.System.GetTimestamp();
                IDisposable model = info.Kind switch
                {
                    ModelKind.ControlNet => controlLoader.LoadControlNet(info),
                    ModelKind.T2IAdapter => controlLoader.LoadT2IAdapter(info),
                    _ => loader.Load(info),
                };
                LoadCount++;
                logger.LogInformation("Loaded model {Model} in {Seconds:F1} s", info.Name, TimeProvider.System.GetElapsedTime(started).TotalSeconds);
                node = new LinkedListNode<Entry>(new Entry(name, info.Kind, model));
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

    /// <summary>Evicts the least recently used models of <paramref name="kind"/> until at most <paramref name="keep"/> of them stay.</summary>
    private void EvictFor(ModelKind kind, int keep)
    {
        var node = _entries.Last;
        while (_entries.Count(e => e.Kind == kind) > Math.Max(keep, 0) && node is not null)
        {
            var previous = node.Previous;
            if (node.Value.Kind != kind)
            {
                node = previous;
                continue;
            }
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

    internal sealed class Entry(string name, ModelKind kind, IDisposable model)
    {
        public string Name { get; } = name;
        public ModelKind Kind { get; } = kind;
        public IDisposable Model { get; } = model;
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

        /// <summary>The pipeline; a lease on a control model has none.</summary>
        public IGenerationModel Model => _entry.Model as IGenerationModel
            ?? throw new InvalidOperationException($"'{_entry.Name}' is a {ModelInfo.KindName(_entry.Kind)} model, not a pipeline.");

        /// <summary>The adapter of a lease on a t2i_adapter model.</summary>
        public Inference.Control.T2IAdapter.T2IAdapterModel Adapter => _entry.Model as Inference.Control.T2IAdapter.T2IAdapterModel
            ?? throw new InvalidOperationException($"'{_entry.Name}' is a {ModelInfo.KindName(_entry.Kind)} model, not a T2I-Adapter.");

        /// <summary>The ControlNet of a lease on a controlnet model.</summary>
        public ControlNetModel ControlNet => _entry.Model as ControlNetModel
            ?? throw new InvalidOperationException($"'{_entry.Name}' is a {ModelInfo.KindName(_entry.Kind)} model, not a ControlNet.");

        public void Dispose()
        {
            Interlocked.Exchange(ref _cache, null)?.Release(_entry);
        }
    }
}
