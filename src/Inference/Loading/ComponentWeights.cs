using System.Text.Json;

namespace Easel.Inference.Loading;

/// <summary>
/// Finds the weight files of one component folder of a diffusers layout (unet/, vae/, text_encoder/, …):
/// a single safetensors file, a sharded set listed by an index file, or a variant such as fp16.
/// Pickle-based files (.bin, .ckpt, .pt) are refused: unpickling can execute arbitrary code.
/// </summary>
public static class ComponentWeights
{
    private static readonly string[] BaseNames = ["diffusion_pytorch_model", "model"];

    /// <summary>Opens the component's safetensors files; the caller disposes them.</summary>
    public static IReadOnlyList<SafeTensorsFile> Open(string componentFolder, string? variant = null)
    {
        var files = Find(componentFolder, variant);
        var opened = new List<SafeTensorsFile>(files.Count);
        try
        {
            foreach (var file in files)
                opened.Add(SafeTensorsFile.Open(file));
            return opened;
        }
        catch
        {
            foreach (var file in opened)
                file.Dispose();
            throw;
        }
    }

    /// <summary>The paths of the component's safetensors files, in shard order.</summary>
    public static IReadOnlyList<string> Find(string componentFolder, string? variant = null)
    {
        if (!Directory.Exists(componentFolder))
            throw new DirectoryNotFoundException($"Model component folder '{componentFolder}' does not exist.");
        var suffix = string.IsNullOrEmpty(variant) ? "" : "." + variant;
        foreach (var baseName in BaseNames)
        {
            var single = Path.Combine(componentFolder, $"{baseName}{suffix}.safetensors");
            if (File.Exists(single))
                return [single];
            var index = Path.Combine(componentFolder, $"{baseName}.safetensors.index{suffix}.json");
            if (!File.Exists(index))
                index = Path.Combine(componentFolder, $"{baseName}{suffix}.safetensors.index.json");
            if (File.Exists(index))
                return ShardsOf(index, componentFolder);
        }
        var pickles = Directory.EnumerateFiles(componentFolder)
            .Where(f => f.EndsWith(".bin", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".ckpt", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".pt", StringComparison.OrdinalIgnoreCase))
            .ToList();
        if (pickles.Count > 0)
            throw new NotSupportedException(
                $"'{componentFolder}' holds only pickle-based weights ({string.Join(", ", pickles.Select(Path.GetFileName))}); " +
                "they can execute code when loaded and are refused. Convert them to safetensors.");
        var variantNote = string.IsNullOrEmpty(variant) ? "" : $" for variant '{variant}'";
        throw new FileNotFoundException($"No safetensors weights{variantNote} in '{componentFolder}'.");
    }

    private static IReadOnlyList<string> ShardsOf(string indexPath, string folder)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(indexPath));
        var shards = json.RootElement.GetProperty("weight_map").EnumerateObject()
            .Select(p => p.Value.GetString()!)
            .Distinct(StringComparer.Ordinal)
            .OrderBy(s => s, StringComparer.Ordinal)
            .Select(s => Path.GetFullPath(Path.Combine(folder, s)))
            .ToList();
        foreach (var shard in shards)
        {
            if (!shard.StartsWith(Path.GetFullPath(folder), StringComparison.Ordinal))
                throw new InvalidDataException($"Index '{indexPath}' points outside its folder: '{shard}'.");
            if (!File.Exists(shard))
                throw new FileNotFoundException($"Index '{indexPath}' lists shard '{shard}', which does not exist.", shard);
        }
        return shards;
    }
}
