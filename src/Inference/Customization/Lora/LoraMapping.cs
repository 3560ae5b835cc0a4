using Easel.Inference.Models;

namespace Easel.Inference.Customization.Lora;

/// <summary>Where one update of a LoRA file lands in a loaded model: the layer's module path in our (diffusers) names.</summary>
public sealed class LoraMapping
{
    internal LoraMapping(LoraAdapterEntry entry, string module, LoraLayer layer)
    {
        Component = entry.Component;
        Module = module;
        SourceKey = entry.SourceKey;
        DownShape = entry.Weights.Down.shape;
        UpShape = entry.Weights.Up.shape;
        Weights = entry.Weights;
        Layer = layer;
    }

    public string Component { get; }

    /// <summary>The layer's path inside its component, e.g. <c>down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q</c>.</summary>
    public string Module { get; }

    /// <summary>The file's key stem for this update.</summary>
    public string SourceKey { get; }

    public long[] DownShape { get; }

    public long[] UpShape { get; }

    internal LoraLayerWeights Weights { get; }

    internal LoraLayer Layer { get; }
}
