using System.Text.RegularExpressions;

namespace Easel.Inference.Customization.Lora;

/// <summary>
/// The tensor names of the three LoRA layouts, both ways: <see cref="Parse"/> splits a file key into component, module
/// path and part; <see cref="Compose"/> builds the key a writer of a layout would use.
/// </summary>
internal static partial class LoraKeyNames
{
    private static readonly (string Prefix, string Component)[] KohyaPrefixes =
    [
        ("lora_unet_", LoraAdapter.UNet),
        ("lora_te1_", LoraAdapter.TextEncoder),
        ("lora_te2_", LoraAdapter.TextEncoder2),
        ("lora_te_", LoraAdapter.TextEncoder),
    ];

    private static readonly (string Prefix, string Component)[] ComponentPrefixes =
    [
        ("unet.", LoraAdapter.UNet),
        ("text_encoder_2.", LoraAdapter.TextEncoder2),
        ("text_encoder.", LoraAdapter.TextEncoder),
    ];

    private static readonly (string Suffix, LoraFormat Format, LoraKeyPart Part)[] Suffixes =
    [
        (".lora.down.weight", LoraFormat.Diffusers, LoraKeyPart.Down),
        (".lora.up.weight", LoraFormat.Diffusers, LoraKeyPart.Up),
        (".lora_linear_layer.down.weight", LoraFormat.Diffusers, LoraKeyPart.Down),
        (".lora_linear_layer.up.weight", LoraFormat.Diffusers, LoraKeyPart.Up),
        (".lora_A.weight", LoraFormat.Peft, LoraKeyPart.Down),
        (".lora_B.weight", LoraFormat.Peft, LoraKeyPart.Up),
        (".lora_A.default.weight", LoraFormat.Peft, LoraKeyPart.Down),
        (".lora_B.default.weight", LoraFormat.Peft, LoraKeyPart.Up),
    ];

    /// <summary>Module names that contain underscores, so that kohya's flattened names can be split back into paths.</summary>
    private static readonly HashSet<string> CompoundNames =
    [
        // diffusers UNet
        "down_blocks", "mid_block", "up_blocks", "transformer_blocks", "to_q", "to_k", "to_v", "to_out", "proj_in", "proj_out",
        "conv_in", "conv_out", "conv_norm_out", "conv_shortcut", "time_emb_proj", "time_embedding", "linear_1", "linear_2",
        "add_embedding", "class_embedding",
        // CLIP text encoders
        "text_model", "self_attn", "q_proj", "k_proj", "v_proj", "out_proj", "text_projection",
        // LDM UNet (kohya's SDXL names)
        "input_blocks", "middle_block", "output_blocks", "in_layers", "out_layers", "emb_layers", "skip_connection", "time_embed", "label_emb",
    ];

    /// <summary>diffusers' attention-processor LoRA names (to_q_lora …) and the projections they adapt in the UNet and in CLIP.</summary>
    private static readonly Dictionary<string, (string UNet, string TextEncoder)> ProcessorProjections = new(StringComparer.Ordinal)
    {
        ["to_q"] = ("to_q", "q_proj"),
        ["to_k"] = ("to_k", "k_proj"),
        ["to_v"] = ("to_v", "v_proj"),
        ["to_out"] = ("to_out.0", "out_proj"),
    };

    [GeneratedRegex(@"^(.*)\.(to_q|to_k|to_v|to_out)_lora\.(down|up)\.weight$")]
    private static partial Regex ProcessorKey();

    /// <summary>
    /// Splits a file key; null when it belongs to no layout (or to a LoRA variant that is not plain LoRA, e.g. LoHa).
    /// Format is null for an <c>.alpha</c> key outside kohya names, which fits any layout.
    /// </summary>
    public static ParsedLoraKey? Parse(string key)
    {
        foreach (var (prefix, component) in KohyaPrefixes)
        {
            if (!key.StartsWith(prefix, StringComparison.Ordinal))
                continue;
            var dot = key.IndexOf('.');
            if (dot < 0)
                return null;
            LoraKeyPart? part = key[(dot + 1)..] switch
            {
                "lora_down.weight" => LoraKeyPart.Down,
                "lora_up.weight" => LoraKeyPart.Up,
                "alpha" => LoraKeyPart.Alpha,
                _ => null,
            };
            return part is { } p ? new ParsedLoraKey(LoraFormat.Kohya, component, FromKohya(key[prefix.Length..dot]), p, key[..dot]) : null;
        }

        var (rest, keyComponent, peftBase) = StripComponent(key);
        if (rest.EndsWith(".alpha", StringComparison.Ordinal))
        {
            var module = rest[..^".alpha".Length];
            return new ParsedLoraKey(peftBase ? LoraFormat.Peft : null, keyComponent ?? ComponentOf(module), module, LoraKeyPart.Alpha, key[..^".alpha".Length]);
        }
        foreach (var (suffix, format, part) in Suffixes)
        {
            if (!rest.EndsWith(suffix, StringComparison.Ordinal))
                continue;
            var module = rest[..^suffix.Length];
            return new ParsedLoraKey(peftBase ? LoraFormat.Peft : format, keyComponent ?? ComponentOf(module), module, part, key[..^suffix.Length]);
        }
        var processor = ProcessorKey().Match(rest);
        if (processor.Success)
        {
            var component = keyComponent ?? ComponentOf(processor.Groups[1].Value);
            var projection = ProcessorProjections[processor.Groups[2].Value];
            var parent = processor.Groups[1].Value;
            if (parent.EndsWith(".processor", StringComparison.Ordinal))
                parent = parent[..^".processor".Length];
            var module = $"{parent}.{(component == LoraAdapter.UNet ? projection.UNet : projection.TextEncoder)}";
            var part = processor.Groups[3].Value == "down" ? LoraKeyPart.Down : LoraKeyPart.Up;
            return new ParsedLoraKey(LoraFormat.Diffusers, component, module, part, key[..key.LastIndexOf("_lora.", StringComparison.Ordinal)]);
        }
        return null;
    }

    /// <summary>The key a <paramref name="format"/> writer stores one part of an update under.</summary>
    /// <param name="twoTextEncoders">Whether the adapter has updates for text_encoder_2 (kohya then names the first encoder te1).</param>
    public static string Compose(LoraFormat format, string component, string module, LoraKeyPart part, bool twoTextEncoders) => format switch
    {
        LoraFormat.Kohya => KohyaPrefix(component, twoTextEncoders) + module.Replace('.', '_') + part switch
        {
            LoraKeyPart.Down => ".lora_down.weight",
            LoraKeyPart.Up => ".lora_up.weight",
            _ => ".alpha",
        },
        LoraFormat.Diffusers => $"{component}.{module}." + (component == LoraAdapter.UNet ? "lora" : "lora_linear_layer") + part switch
        {
            LoraKeyPart.Down => ".down.weight",
            LoraKeyPart.Up => ".up.weight",
            _ => throw new ArgumentOutOfRangeException(nameof(part), part, "diffusers files carry no alpha."),
        },
        _ => $"{component}.{module}." + part switch
        {
            LoraKeyPart.Down => "lora_A.weight",
            LoraKeyPart.Up => "lora_B.weight",
            _ => throw new ArgumentOutOfRangeException(nameof(part), part, "PEFT files carry no alpha."),
        },
    };

    /// <summary>Whether a UNet module path uses LDM names (input_blocks, middle_block, output_blocks, …).</summary>
    public static bool IsLdmUNetModule(string module) =>
        module.StartsWith("input_blocks.", StringComparison.Ordinal) || module.StartsWith("middle_block.", StringComparison.Ordinal) ||
        module.StartsWith("output_blocks.", StringComparison.Ordinal) || module.StartsWith("time_embed.", StringComparison.Ordinal) ||
        module.StartsWith("label_emb.", StringComparison.Ordinal) || module.StartsWith("out.", StringComparison.Ordinal);

    /// <summary>A kohya name (module path with every '.' turned into '_') back to the path, joining known compound names.</summary>
    public static string FromKohya(string flat)
    {
        var tokens = flat.Split('_');
        var parts = new List<string>(tokens.Length);
        for (var i = 0; i < tokens.Length;)
        {
            var taken = 1;
            for (var length = Math.Min(3, tokens.Length - i); length > 1; length--)
            {
                if (CompoundNames.Contains(string.Join('_', tokens, i, length)))
                {
                    taken = length;
                    break;
                }
            }
            parts.Add(string.Join('_', tokens, i, taken));
            i += taken;
        }
        return string.Join('.', parts);
    }

    private static string KohyaPrefix(string component, bool twoTextEncoders) => component switch
    {
        LoraAdapter.UNet => "lora_unet_",
        LoraAdapter.TextEncoder => twoTextEncoders ? "lora_te1_" : "lora_te_",
        LoraAdapter.TextEncoder2 => "lora_te2_",
        _ => throw new ArgumentOutOfRangeException(nameof(component), component, "Not a LoRA component."),
    };

    /// <summary>The key without its component prefix; the component when the prefix names one; whether it was PEFT's base_model.model.</summary>
    private static (string Remainder, string? Component, bool PeftBase) StripComponent(string key)
    {
        foreach (var (prefix, component) in ComponentPrefixes)
        {
            if (key.StartsWith(prefix, StringComparison.Ordinal))
                return (key[prefix.Length..], component, false);
        }
        const string peftBase = "base_model.model.";
        return key.StartsWith(peftBase, StringComparison.Ordinal) ? (key[peftBase.Length..], null, true) : (key, null, false);
    }

    // Keys without a component prefix (PEFT's base_model.model., diffusers' oldest UNet-only files) name a CLIP module or a UNet one.
    private static string ComponentOf(string module) =>
        module.StartsWith("text_model.", StringComparison.Ordinal) ? LoraAdapter.TextEncoder : LoraAdapter.UNet;
}
