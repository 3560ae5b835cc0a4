using System.Globalization;
using Easel.Core.Artifacts;
using Easel.Inference.Loading;

namespace Easel.Workers.Artifacts;

/// <summary>
/// Reads a LoRA file's keys: kohya (<c>lora_unet_…</c>, <c>lora_te_…</c>, <c>lora_te1_…</c>, <c>lora_te2_…</c> with
/// <c>.lora_down/.lora_up.weight</c> and <c>.alpha</c>), diffusers (<c>unet.….lora.down.weight</c>,
/// <c>….lora_linear_layer.down.weight</c>) or PEFT (<c>[base_model.model.]unet.….lora_A.weight</c>), each a pair of
/// down (rank × in) and up (out × rank) matrices on one module of a component.
/// </summary>
internal static class LoraKeys
{
    private static readonly (string Prefix, string Component)[] KohyaPrefixes =
    [
        ("lora_unet_", "unet"), ("lora_te1_", "text_encoder"), ("lora_te2_", "text_encoder_2"), ("lora_te_", "text_encoder"),
    ];

    private static readonly (string Suffix, ArtifactFormat Format, bool Down)[] Suffixes =
    [
        (".lora_down.weight", ArtifactFormat.Kohya, true), (".lora_up.weight", ArtifactFormat.Kohya, false),
        (".lora_linear_layer.down.weight", ArtifactFormat.Diffusers, true), (".lora_linear_layer.up.weight", ArtifactFormat.Diffusers, false),
        (".lora.down.weight", ArtifactFormat.Diffusers, true), (".lora.up.weight", ArtifactFormat.Diffusers, false),
        (".lora_A.weight", ArtifactFormat.Peft, true), (".lora_B.weight", ArtifactFormat.Peft, false),
    ];

    private sealed record Part(string Key, string Component, string Module, ArtifactFormat Format, bool Down, long[] Shape);

    public static ArtifactInspection Inspect(SafeTensorsHeader header, BaseWeights? weights)
    {
        var parts = new List<Part>();
        var unknown = new List<string>();
        foreach (var (key, entry) in header.Entries.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            if (key.EndsWith(".alpha", StringComparison.Ordinal) && key.StartsWith("lora_", StringComparison.Ordinal))
                continue;
            if (Parse(key, entry.Shape) is { } part)
                parts.Add(part);
            else
                unknown.Add(key);
        }
        if (parts.Count == 0 || unknown.Count > 0)
            return ArtifactInspection.Refused(ArtifactRefusalReason.UnknownLayout,
                parts.Count == 0
                    ? "The file holds no LoRA weights: expected kohya (lora_unet_…/lora_te_… with .lora_down/.lora_up.weight), diffusers (….lora.down.weight) or PEFT (….lora_A/.lora_B.weight) keys."
                    : "These keys are no part of a LoRA in the file's layout.",
                [.. unknown.Take(SafeTensorsArtifactInspector.MaxReportedKeys)]);
        var formats = parts.Select(p => p.Format).Distinct().ToList();
        if (formats.Count > 1)
            return ArtifactInspection.Refused(ArtifactRefusalReason.UnknownLayout,
                $"The file mixes LoRA layouts ({string.Join(", ", formats.Select(f => f.ToString().ToLowerInvariant()))}); use one.");

        var checkedAgainstBase = weights is not null && !IsSgmKohya(parts);
        if (checkedAgainstBase)
        {
            var mismatched = parts.Where(p => !Fits(p, weights!)).Select(p => p.Key).Take(SafeTensorsArtifactInspector.MaxReportedKeys).ToList();
            if (mismatched.Count > 0)
                return ArtifactInspection.Refused(ArtifactRefusalReason.BaseModelMismatch,
                    "These keys map onto no weight of the base model, or onto one of another shape.", mismatched);
        }

        var ranks = parts.Where(p => p.Down).Select(p => p.Shape[0]).Distinct().Order().ToList();
        var metadata = new Dictionary<string, object?>
        {
            [ArtifactMetadataKeys.Rank] = ranks.Count == 1 ? ranks[0] : ranks,
            [ArtifactMetadataKeys.Alpha] = Alpha(header),
            [ArtifactMetadataKeys.Components] = parts.Select(p => p.Component).Distinct().Order(StringComparer.Ordinal).ToList(),
            [ArtifactMetadataKeys.TargetModules] = parts.Select(p => p.Module.Split('.')[^1]).Distinct().Order(StringComparer.Ordinal).ToList(),
            [ArtifactMetadataKeys.BaseModelChecked] = checkedAgainstBase,
            [ArtifactMetadataKeys.FileMetadata] = header.Metadata,
        };
        return ArtifactInspection.Accepted(formats[0], metadata);
    }

    /// <summary>kohya's <c>ss_network_alpha</c> (PEFT's <c>lora_alpha</c> when a file carries it), else null (then alpha = rank, or per-module .alpha tensors).</summary>
    private static double? Alpha(SafeTensorsHeader header) =>
        (header.Metadata.GetValueOrDefault("ss_network_alpha") ?? header.Metadata.GetValueOrDefault("lora_alpha")) is { } text
        && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var alpha) ? alpha : null;

    private static Part? Parse(string key, long[] shape)
    {
        foreach (var (suffix, format, down) in Suffixes)
        {
            if (!key.EndsWith(suffix, StringComparison.Ordinal))
                continue;
            var path = key[..^suffix.Length];
            if (format == ArtifactFormat.Kohya)
            {
                foreach (var (prefix, component) in KohyaPrefixes)
                {
                    if (path.StartsWith(prefix, StringComparison.Ordinal))
                        return new Part(key, component, path[prefix.Length..], format, down, shape);
                }
                return null;
            }
            if (path.StartsWith("base_model.model.", StringComparison.Ordinal))
                path = path["base_model.model.".Length..];
            foreach (var component in new[] { "unet", "text_encoder_2", "text_encoder" })
            {
                if (path.StartsWith(component + ".", StringComparison.Ordinal))
                    return new Part(key, component, path[(component.Length + 1)..], format, down, shape);
            }
            // PEFT files saved from the UNet alone carry no component prefix.
            return format == ArtifactFormat.Peft ? new Part(key, "unet", path, format, down, shape) : null;
        }
        return null;
    }

    /// <summary>kohya SDXL files name UNet modules by the original SGM paths, which need the LDM→diffusers mapping.</summary>
    private static bool IsSgmKohya(List<Part> parts) =>
        parts.Any(p => p.Format == ArtifactFormat.Kohya && p.Component == "unet"
                       && (p.Module.StartsWith("input_blocks_", StringComparison.Ordinal) || p.Module.StartsWith("output_blocks_", StringComparison.Ordinal)
                           || p.Module.StartsWith("middle_block_", StringComparison.Ordinal)));

    /// <summary>
    /// Whether the part's module is a weight of the component with a fitting shape: down is rank × in (× k × k for a conv),
    /// up is out × rank. kohya's underscored paths match the weight name with its dots replaced by underscores.
    /// </summary>
    private static bool Fits(Part part, BaseWeights weights)
    {
        if (weights.Component(part.Component) is not { } component)
            return false;
        var name = part.Module + ".weight";
        SafeTensorsHeaderEntry? target = component.GetValueOrDefault(name);
        if (target is null && part.Format == ArtifactFormat.Kohya)
        {
            var underscored = part.Module + "_weight";
            target = component.Values.FirstOrDefault(e => e.Name.Replace('.', '_') == underscored);
        }
        if (target is null || target.Shape.Length is not (2 or 4) || part.Shape.Length != target.Shape.Length)
            return false;
        return part.Down ? part.Shape[1] == target.Shape[1] : part.Shape[0] == target.Shape[0];
    }
}
