using Easel.Inference.Loading;
using Easel.Inference.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Customization.Lora;

/// <summary>
/// Reads and writes LoRA files, safetensors only, in the kohya, diffusers and PEFT layouts (<see cref="LoraFormat"/>); the
/// layout is detected from the keys. α: kohya's per-layer <c>.alpha</c> tensor (missing → α = r); for diffusers and PEFT an
/// <c>.alpha</c> tensor, else the adapter config in the metadata or in an <c>adapter_config.json</c> beside the file, else
/// α = r (up pre-multiplied, as diffusers writes it). Pickles are refused: unpickling can execute arbitrary code.
/// </summary>
public static class LoraFile
{
    /// <summary>The file PEFT's save_pretrained writes beside the weights.</summary>
    public const string AdapterConfigFileName = "adapter_config.json";

    /// <summary>Reads a LoRA file.</summary>
    /// <param name="name">The adapter's name; null uses the file name without its extension.</param>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="NotSupportedException">The file is a pickle; the message says how to convert it.</exception>
    /// <exception cref="InvalidDataException">A safetensors file in none of the LoRA layouts, mixing them, or with an update missing a half.</exception>
    public static LoraAdapter Load(string path, string? name = null)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"LoRA file '{path}' does not exist.", path);
        var fileName = Path.GetFileName(path);
        if (PickleFiles.IsPickle(path))
            throw new NotSupportedException(
                $"'{fileName}' is a pickle (a torch.save file): unpickling can execute arbitrary code, so LoRAs are accepted only as .safetensors. " +
                "Convert it once with a trusted Python: `import torch; from safetensors.torch import save_file; " +
                $"save_file(torch.load('{fileName}', weights_only=True), '{Path.GetFileNameWithoutExtension(path)}.safetensors')`, then upload the .safetensors file.");
        var configPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, AdapterConfigFileName);
        var adapterConfig = File.Exists(configPath) ? File.ReadAllText(configPath) : null;

        using var file = SafeTensorsFile.Open(path);
        var parsed = new List<(string Key, ParsedLoraKey Parsed)>();
        var unknown = new List<string>();
        foreach (var key in file.Keys)
        {
            if (LoraKeyNames.Parse(key) is { } p)
                parsed.Add((key, p));
            else
                unknown.Add(key);
        }
        var formats = parsed.Select(p => p.Parsed.Format).OfType<LoraFormat>().Distinct().ToList();
        if (unknown.Count > 0 || formats.Count != 1)
        {
            var reason = unknown.Count > 0
                ? $"{unknown.Count} keys are in no LoRA layout (kohya lora_down/lora_up/alpha, diffusers lora.down/lora.up, PEFT lora_A/lora_B): {Names(unknown)}"
                : formats.Count == 0 ? "it holds no LoRA update" : $"it mixes the {string.Join(" and ", formats)} layouts";
            throw new InvalidDataException($"'{fileName}' is not a LoRA file: {reason}.");
        }
        var format = formats[0];
        var alphaConfig = format == LoraFormat.Kohya ? null : LoraAlphaConfig.Read(file.Metadata, adapterConfig, fileName);

        var groups = parsed.GroupBy(p => (p.Parsed.Component, p.Parsed.Module)).ToList();
        var incomplete = groups.Where(g => !g.Any(p => p.Parsed.Part == LoraKeyPart.Down) || !g.Any(p => p.Parsed.Part == LoraKeyPart.Up))
            .Select(g => g.First().Parsed.Stem).ToList();
        if (incomplete.Count > 0)
            throw new InvalidDataException($"'{fileName}': {incomplete.Count} updates lack their down or up tensor: {Names(incomplete)}.");

        var entries = new List<LoraAdapterEntry>(groups.Count);
        try
        {
            foreach (var group in groups)
            {
                string KeyOf(LoraKeyPart part) => group.First(p => p.Parsed.Part == part).Key;
                var down = Read(file, KeyOf(LoraKeyPart.Down));
                var up = Read(file, KeyOf(LoraKeyPart.Up));
                var (component, module) = group.Key;
                var rank = down.shape[0];
                double alpha;
                if (group.Any(p => p.Parsed.Part == LoraKeyPart.Alpha))
                {
                    using var alphaTensor = file.Load(KeyOf(LoraKeyPart.Alpha));
                    alpha = alphaTensor.to(float64).item<double>();
                }
                else
                    alpha = alphaConfig?.AlphaFor(component, module, rank) ?? rank;
                entries.Add(new LoraAdapterEntry(component, module, new LoraLayerWeights(down, up, alpha), group.First(p => p.Parsed.Part == LoraKeyPart.Down).Parsed.Stem));
            }
        }
        catch
        {
            foreach (var entry in entries)
            {
                entry.Weights.Down.Dispose();
                entry.Weights.Up.Dispose();
            }
            throw;
        }
        return new LoraAdapter(string.IsNullOrWhiteSpace(name) ? Path.GetFileNameWithoutExtension(path) : name, format, entries);
    }

    /// <summary>
    /// Writes <paramref name="adapter"/> in <paramref name="format"/> to <paramref name="stream"/> (left open). kohya keeps each
    /// update's α; diffusers and PEFT files carry none, so their up tensors are written pre-multiplied by α/r (what diffusers
    /// writes, and what <see cref="Load"/> assumes for them).
    /// </summary>
    /// <exception cref="ArgumentException">diffusers or PEFT output of an adapter whose UNet updates use LDM names (kohya SDXL):
    /// those layouts name diffusers modules only.</exception>
    public static void Write(LoraAdapter adapter, LoraFormat format, Stream stream)
    {
        if (format != LoraFormat.Kohya && adapter.Entries.FirstOrDefault(e => e.Component == LoraAdapter.UNet && LoraKeyNames.IsLdmUNetModule(e.Module)) is { } ldm)
            throw new ArgumentException(
                $"LoRA '{adapter.Name}' names UNet modules the LDM way ({ldm.SourceKey}); it can be written as kohya only.", nameof(adapter));
        var twoTextEncoders = adapter.Entries.Any(e => e.Component == LoraAdapter.TextEncoder2);
        using var scope = torch.NewDisposeScope();
        var tensors = new List<KeyValuePair<string, Tensor>>();
        foreach (var entry in adapter.Entries)
        {
            string Key(LoraKeyPart part) => LoraKeyNames.Compose(format, entry.Component, entry.Module, part, twoTextEncoders);
            var weights = entry.Weights;
            tensors.Add(new(Key(LoraKeyPart.Down), weights.Down.detach()));
            if (format == LoraFormat.Kohya)
            {
                tensors.Add(new(Key(LoraKeyPart.Up), weights.Up.detach()));
                tensors.Add(new(Key(LoraKeyPart.Alpha), torch.tensor((float)weights.Alpha)));
            }
            else
                tensors.Add(new(Key(LoraKeyPart.Up), weights.Up.detach() * weights.Scale));
        }
        SafeTensorsWriter.Write(stream, tensors, metadata: new Dictionary<string, string> { ["format"] = "pt" });
    }

    private static Tensor Read(SafeTensorsFile file, string key)
    {
        var stored = file.Load(key);
        if (stored.dtype == float32)
            return stored.DetachFromDisposeScope();
        using (stored)
            return stored.to(float32).DetachFromDisposeScope();
    }

    private static string Names(List<string> names) => string.Join(", ", names.Take(5)) + (names.Count > 5 ? ", …" : "");
}
