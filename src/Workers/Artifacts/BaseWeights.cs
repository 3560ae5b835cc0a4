using Easel.Inference.Loading;

namespace Easel.Workers.Artifacts;

/// <summary>
/// The weight names and shapes of a diffusers model's components (<c>unet</c>, <c>text_encoder</c>, <c>text_encoder_2</c>),
/// read from their safetensors headers on first use.
/// </summary>
internal sealed class BaseWeights(string modelFolder)
{
    private readonly Dictionary<string, IReadOnlyDictionary<string, SafeTensorsHeaderEntry>?> _components = new(StringComparer.Ordinal);

    /// <summary>The weights of <paramref name="component"/> by name, or null when the model has no such component.</summary>
    public IReadOnlyDictionary<string, SafeTensorsHeaderEntry>? Component(string component)
    {
        if (_components.TryGetValue(component, out var known))
            return known;
        var folder = Path.Combine(modelFolder, component);
        var file = new[] { "diffusion_pytorch_model.safetensors", "model.safetensors" }
            .Select(name => Path.Combine(folder, name))
            .FirstOrDefault(File.Exists);
        var entries = file is null ? null : SafeTensorsHeader.Read(file).Entries;
        _components[component] = entries;
        return entries;
    }

    /// <summary>The hidden size of a text encoder (the width of its token embedding), or null when it is not there.</summary>
    public long? EmbeddingWidth(string component) =>
        Component(component)?.GetValueOrDefault("text_model.embeddings.token_embedding.weight")?.Shape is [_, var width] ? width : null;
}
