using Easel.Inference.Models;
using Easel.Inference.Pipelines;

namespace Easel.Inference.Customization.Lora;

/// <summary>
/// LoRA adapters active on a pipeline for one request. <see cref="Apply"/> maps every adapter first (so a file that does not
/// fit changes nothing), then adds the updates, optionally merged into the weights; <see cref="Dispose"/> clears them, which
/// restores the original weights bit-exactly (see <see cref="LoraLayer.Unmerge"/>) also when the request failed or was canceled.
/// </summary>
public sealed class LoraActivation : IDisposable
{
    private readonly List<LoraLayer> _layers;

    private LoraActivation(List<LoraLayer> layers, IReadOnlyList<LoraMapping> mappings)
    {
        _layers = layers;
        Mappings = mappings;
    }

    /// <summary>Every update that was added, across the adapters.</summary>
    public IReadOnlyList<LoraMapping> Mappings { get; }

    /// <summary>Adds each adapter at its scale (the user's strength; each update's α/r comes on top).</summary>
    /// <param name="merge">Fold the updates into the weights once (faster steps) instead of running them beside each layer.</param>
    /// <exception cref="ArgumentException">An adapter does not fit the pipeline's models (see <see cref="LoraAdapter.Map"/>).</exception>
    /// <exception cref="InvalidOperationException">The pipeline's layers already carry adapters (another activation is open).</exception>
    public static LoraActivation Apply(StableDiffusionPipeline pipeline, IReadOnlyList<(LoraAdapter Adapter, double Scale)> adapters, bool merge = false)
    {
        var mapped = adapters.Select(a => (Mappings: a.Adapter.Map(pipeline), a.Scale)).ToList();
        var layers = mapped.SelectMany(m => m.Mappings).Select(m => m.Layer).Distinct().ToList();
        if (layers.FirstOrDefault(l => l.Adapters.Count > 0) is not null)
            throw new InvalidOperationException($"'{pipeline.Folder}' already has LoRA adapters active; dispose their activation first.");
        try
        {
            foreach (var (mappings, scale) in mapped)
            {
                foreach (var mapping in mappings)
                    mapping.Layer.AddAdapter(mapping.Weights, scale);
            }
            if (merge)
            {
                foreach (var layer in layers)
                    layer.Merge();
            }
        }
        catch
        {
            foreach (var layer in layers)
                layer.ClearAdapters();
            throw;
        }
        return new LoraActivation(layers, mapped.SelectMany(m => m.Mappings).ToList());
    }

    public void Dispose()
    {
        foreach (var layer in _layers)
            layer.ClearAdapters();
        _layers.Clear();
    }
}
