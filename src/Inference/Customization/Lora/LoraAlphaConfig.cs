using System.Globalization;
using System.Text.Json;

namespace Easel.Inference.Customization.Lora;

/// <summary>
/// The α of diffusers and PEFT files, which store none beside the tensors: PEFT's adapter config (<c>lora_alpha</c>,
/// <c>alpha_pattern</c>, <c>use_rslora</c>) found in the safetensors metadata (diffusers writes it as
/// <c>lora_adapter_metadata</c> with <c>unet.</c>/<c>text_encoder.</c>-prefixed keys) or in an <c>adapter_config.json</c>
/// beside the file. Without one, up is taken as pre-multiplied by α/r (what diffusers' own writer does), i.e. α = r.
/// </summary>
internal sealed class LoraAlphaConfig
{
    private const string AllComponents = "";

    private readonly Dictionary<string, ComponentAlpha> _byComponent;

    private LoraAlphaConfig(Dictionary<string, ComponentAlpha> byComponent) => _byComponent = byComponent;

    /// <summary>Reads the metadata entries and the optional adapter_config.json text.</summary>
    /// <exception cref="InvalidDataException">An adapter config is not valid JSON.</exception>
    public static LoraAlphaConfig Read(IReadOnlyDictionary<string, string> metadata, string? adapterConfigJson, string fileName)
    {
        var configs = new Dictionary<string, Dictionary<string, JsonElement>>(StringComparer.Ordinal);
        void Add(string component, string name, JsonElement value)
        {
            if (!configs.TryGetValue(component, out var config))
                configs[component] = config = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            config[name] = value.Clone();
        }
        // A config object: unprefixed entries apply to every component (PEFT's adapter_config.json); diffusers prefixes them
        // with the component ("unet.lora_alpha") or nests one object per component.
        void AddObject(JsonElement root, string target)
        {
            foreach (var property in root.EnumerateObject())
            {
                var component = target == AllComponents ? ComponentOf(property.Name) : null;
                if (component is not null && property.Name == component && property.Value.ValueKind == JsonValueKind.Object)
                    AddObject(property.Value, component);
                else if (component is not null)
                    Add(component, property.Name[(component.Length + 1)..], property.Value);
                else
                    Add(target, property.Name, property.Value);
            }
        }
        JsonElement Parse(string json, string where)
        {
            try
            {
                using var document = JsonDocument.Parse(json);
                return document.RootElement.Clone();
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"'{fileName}': {where} is not valid JSON: {e.Message}", e);
            }
        }

        if (adapterConfigJson is not null)
            AddObject(Parse(adapterConfigJson, "adapter_config.json"), AllComponents);
        foreach (var name in new[] { "adapter_config", "lora_adapter_metadata" })
        {
            if (metadata.TryGetValue(name, out var json))
                AddObject(Parse(json, $"metadata entry {name}"), AllComponents);
        }
        foreach (var name in new[] { "lora_alpha", "network_alpha" })
        {
            if (metadata.TryGetValue(name, out var text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var alpha))
                Add(AllComponents, "lora_alpha", JsonSerializer.SerializeToElement(alpha));
        }

        var byComponent = new Dictionary<string, ComponentAlpha>(StringComparer.Ordinal);
        foreach (var (component, config) in configs)
        {
            var patterns = config.TryGetValue("alpha_pattern", out var p) && p.ValueKind == JsonValueKind.Object
                ? p.EnumerateObject().Select(e => (e.Name, Number(e.Value))).Where(e => e.Item2 is not null).ToDictionary(e => e.Name, e => e.Item2!.Value)
                : [];
            var alpha = config.TryGetValue("lora_alpha", out var a) ? Number(a) : null;
            var rsLora = config.TryGetValue("use_rslora", out var r) && r.ValueKind == JsonValueKind.True;
            if (alpha is not null || patterns.Count > 0)
                byComponent[component] = new ComponentAlpha(alpha, patterns, rsLora);
        }
        return new LoraAlphaConfig(byComponent);
    }

    /// <summary>α for one module of rank <paramref name="rank"/>, in the α/r convention of <see cref="Models.LoraLayerWeights"/>; null when none is configured.</summary>
    public double? AlphaFor(string component, string module, long rank)
    {
        if (!_byComponent.TryGetValue(component, out var config) && !_byComponent.TryGetValue(AllComponents, out config))
            return null;
        // PEFT matches a pattern against the end of the module path.
        var alpha = config.Patterns.Where(p => module == p.Key || module.EndsWith("." + p.Key, StringComparison.Ordinal))
            .Select(p => (double?)p.Value).FirstOrDefault() ?? config.Alpha;
        if (alpha is null)
            return null;
        // rsLoRA (Kalajdzievski 2023) scales by α/√r: the same factor as α·√r / r.
        return config.RsLora ? alpha * Math.Sqrt(rank) : alpha;
    }

    private static string? ComponentOf(string name)
    {
        foreach (var component in new[] { LoraAdapter.TextEncoder2, LoraAdapter.TextEncoder, LoraAdapter.UNet })
        {
            if (name == component || name.StartsWith(component + ".", StringComparison.Ordinal))
                return component;
        }
        return null;
    }

    private static double? Number(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Number => value.GetDouble(),
        JsonValueKind.String when double.TryParse(value.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
        _ => null,
    };

    private sealed record ComponentAlpha(double? Alpha, Dictionary<string, double> Patterns, bool RsLora);
}
