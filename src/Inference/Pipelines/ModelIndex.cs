using System.Text.Json;

namespace Easel.Inference.Pipelines;

/// <summary>The parts of a diffusers model_index.json a pipeline needs.</summary>
internal sealed record ModelIndex(string? ClassName, IReadOnlySet<string> Components, bool? ForceZerosForEmptyPrompt, bool? RequiresAestheticsScore)
{
    public static ModelIndex Read(string modelFolder)
    {
        var path = Path.Combine(modelFolder, "model_index.json");
        if (!File.Exists(path))
            throw new FileNotFoundException($"'{modelFolder}' is not a diffusers model folder: it has no model_index.json.", path);
        return Parse(File.ReadAllText(path));
    }

    /// <summary>Parses the text of a model_index.json.</summary>
    public static ModelIndex Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        string? className = root.TryGetProperty("_class_name", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
        // A component entry is ["library", "Class"]; [null, null] marks an absent one.
        var components = root.EnumerateObject()
            .Where(p => p.Value.ValueKind == JsonValueKind.Array && p.Value.EnumerateArray().Any(v => v.ValueKind == JsonValueKind.String))
            .Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        return new ModelIndex(className, components, Flag(root, "force_zeros_for_empty_prompt"), Flag(root, "requires_aesthetics_score"));
    }

    private static bool? Flag(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;
}
