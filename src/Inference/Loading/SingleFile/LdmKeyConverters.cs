using System.Text.RegularExpressions;
using Easel.Inference.Models.UNet;
using Easel.Inference.Models.Vae;
using Easel.Inference.Text;
using static TorchSharp.torch;

namespace Easel.Inference.Loading.SingleFile;

/// <summary>
/// Converts one key of a component's slice of an original (LDM / SGM) checkpoint, relative to the component prefix, to
/// the diffusers module key(s) it fills. Returns null for a key that is known to be unused (skipped) and an empty list
/// for a key that cannot be converted (reported as unexpected).
/// </summary>
internal interface ILdmKeyConverter
{
    IReadOnlyList<WeightTarget>? Convert(string key, long[] shape);
}

internal static class ConverterShapes
{
    public static IReadOnlyList<WeightTarget> As(string target, long[] shape) => [new WeightTarget(target, shape)];

    /// <summary>A 1×1 convolution weight [out, in, 1, 1] stored for a linear layer [out, in] (or any shape that drops trailing 1s).</summary>
    public static IReadOnlyList<WeightTarget> ConvToLinear(string target, long[] shape)
    {
        if (shape.Length == 4 && shape[2] == 1 && shape[3] == 1)
        {
            long[] linear = [shape[0], shape[1]];
            return [new WeightTarget(target, linear, t => t.reshape(linear))];
        }
        return As(target, shape);
    }

    /// <summary>A linear weight [out, in] stored for a 1×1 convolution [out, in, 1, 1].</summary>
    public static IReadOnlyList<WeightTarget> LinearToConv(string target, long[] shape)
    {
        if (shape.Length == 2)
        {
            long[] conv = [shape[0], shape[1], 1, 1];
            return [new WeightTarget(target, conv, t => t.reshape(conv))];
        }
        return As(target, shape);
    }
}

/// <summary>
/// The LDM UNet (<c>model.diffusion_model.*</c>) to diffusers' <c>UNet2DConditionModel</c>: input_blocks/middle_block/
/// output_blocks to down_blocks/mid_block/up_blocks (resnets, attentions, downsamplers, upsamplers), resnet layer names
/// (in_layers → norm1/conv1, out_layers → norm2/conv2, emb_layers → time_emb_proj, skip_connection → conv_shortcut),
/// time_embed → time_embedding, label_emb → add_embedding (SDXL text_time), out.0/out.2 → conv_norm_out/conv_out.
/// Transformer internals keep their names; proj_in/proj_out are reshaped between 1×1 conv and linear as the config asks.
/// </summary>
internal sealed partial class UNetKeyConverter : ILdmKeyConverter
{
    private readonly UNet2DConditionConfig _config;
    private readonly Dictionary<string, string> _blocks = new(StringComparer.Ordinal); // "input_blocks.4.1" → "down_blocks.1.attentions.0" / "…resnets.0" / "…downsamplers.0"

    public UNetKeyConverter(UNet2DConditionConfig config)
    {
        _config = config;
        var n = config.BlockOutChannels.Count;
        _blocks["input_blocks.0.0"] = "conv_in";
        var index = 1;
        for (var i = 0; i < n; i++)
        {
            var layers = config.LayersPerBlock.For(i, n);
            for (var j = 0; j < layers; j++, index++)
            {
                _blocks[$"input_blocks.{index}.0"] = $"down_blocks.{i}.resnets.{j}";
                _blocks[$"input_blocks.{index}.1"] = $"down_blocks.{i}.attentions.{j}";
            }
            if (i < n - 1)
                _blocks[$"input_blocks.{index++}.0"] = $"down_blocks.{i}.downsamplers.0";
        }
        _blocks["middle_block.0"] = "mid_block.resnets.0";
        _blocks["middle_block.1"] = "mid_block.attentions.0";
        _blocks["middle_block.2"] = "mid_block.resnets.1";
        index = 0;
        for (var i = 0; i < n; i++)
        {
            var layers = config.LayersPerBlock.For(n - 1 - i, n) + 1;
            for (var j = 0; j < layers; j++, index++)
            {
                _blocks[$"output_blocks.{index}.0"] = $"up_blocks.{i}.resnets.{j}";
                _blocks[$"output_blocks.{index}.1"] = $"up_blocks.{i}.attentions.{j}"; // or the upsampler when the block has no attention
                _blocks[$"output_blocks.{index}.2"] = $"up_blocks.{i}.upsamplers.0";
            }
        }
    }

    [GeneratedRegex(@"^((?:input_blocks|output_blocks)\.\d+\.\d+|middle_block\.\d+)\.(.+)$")]
    private static partial Regex BlockKey();

    public IReadOnlyList<WeightTarget>? Convert(string key, long[] shape)
    {
        switch (key)
        {
            case "time_embed.0.weight" or "time_embed.0.bias":
                return ConverterShapes.As("time_embedding.linear_1" + key[key.LastIndexOf('.')..], shape);
            case "time_embed.2.weight" or "time_embed.2.bias":
                return ConverterShapes.As("time_embedding.linear_2" + key[key.LastIndexOf('.')..], shape);
            case "out.0.weight" or "out.0.bias":
                return ConverterShapes.As("conv_norm_out" + key[key.LastIndexOf('.')..], shape);
            case "out.2.weight" or "out.2.bias":
                return ConverterShapes.As("conv_out" + key[key.LastIndexOf('.')..], shape);
        }
        if (key.StartsWith("label_emb.0.", StringComparison.Ordinal) && _config.AdditionEmbedType == "text_time")
        {
            var rest = key["label_emb.0.".Length..];
            return rest switch
            {
                "0.weight" or "0.bias" => ConverterShapes.As("add_embedding.linear_1." + rest[2..], shape),
                "2.weight" or "2.bias" => ConverterShapes.As("add_embedding.linear_2." + rest[2..], shape),
                _ => [],
            };
        }

        var match = BlockKey().Match(key);
        if (!match.Success || !_blocks.TryGetValue(match.Groups[1].Value, out var block))
            return [];
        var inner = match.Groups[2].Value;
        if (block == "conv_in")
            return ConverterShapes.As("conv_in." + inner, shape);
        if (block.Contains(".resnets.", StringComparison.Ordinal))
        {
            var renamed = ResnetInner(inner);
            return renamed is null ? [] : ConverterShapes.As($"{block}.{renamed}", shape);
        }
        if (block.EndsWith(".downsamplers.0", StringComparison.Ordinal))
            return inner.StartsWith("op.", StringComparison.Ordinal) ? ConverterShapes.As($"{block}.conv.{inner[3..]}", shape) : [];
        if (block.EndsWith(".upsamplers.0", StringComparison.Ordinal))
            return inner.StartsWith("conv.", StringComparison.Ordinal) ? ConverterShapes.As($"{block}.{inner}", shape) : [];
        // An attention slot: in an up block without attention, output_blocks.N.1 is the upsampler.
        if (block.StartsWith("up_blocks.", StringComparison.Ordinal) && inner.StartsWith("conv.", StringComparison.Ordinal))
            return ConverterShapes.As($"{block[..block.IndexOf(".attentions.", StringComparison.Ordinal)]}.upsamplers.0.{inner}", shape);
        var target = $"{block}.{inner}";
        if (inner is "proj_in.weight" or "proj_out.weight")
            return _config.UseLinearProjection ? ConverterShapes.ConvToLinear(target, shape) : ConverterShapes.LinearToConv(target, shape);
        return ConverterShapes.As(target, shape);
    }

    private static string? ResnetInner(string inner)
    {
        var dot = inner.LastIndexOf('.');
        if (dot < 0 || !ResnetLayers.TryGetValue(inner[..dot], out var renamed))
            return null;
        return $"{renamed}.{inner[(dot + 1)..]}";
    }

    /// <summary>
    /// The LDM names of one module of this UNet (kohya's SDXL LoRAs name UNet modules the LDM way): the inverse of
    /// <see cref="Convert"/> on module paths. An upsampler has two (LDM puts it in slot 1 of an up block without attention).
    /// </summary>
    public IEnumerable<string> LdmModuleNames(string module)
    {
        foreach (var (ldm, diffusers) in FixedModules)
        {
            if (module == diffusers)
                yield return ldm;
        }
        foreach (var (ldmBlock, block) in _blocks)
        {
            if (module == block && block == "conv_in")
                yield return ldmBlock;
            var upsampler = block.Contains(".attentions.", StringComparison.Ordinal) && block.StartsWith("up_blocks.", StringComparison.Ordinal)
                ? $"{block[..block.IndexOf(".attentions.", StringComparison.Ordinal)]}.upsamplers.0"
                : null;
            if (upsampler is not null && module.StartsWith(upsampler + ".", StringComparison.Ordinal))
                yield return $"{ldmBlock}.{module[(upsampler.Length + 1)..]}";
            if (!module.StartsWith(block + ".", StringComparison.Ordinal))
                continue;
            var inner = module[(block.Length + 1)..];
            if (block.Contains(".resnets.", StringComparison.Ordinal))
            {
                var layer = ResnetLayers.FirstOrDefault(r => r.Value == inner).Key;
                if (layer is not null)
                    yield return $"{ldmBlock}.{layer}";
            }
            else if (block.EndsWith(".downsamplers.0", StringComparison.Ordinal))
            {
                if (inner == "conv")
                    yield return $"{ldmBlock}.op";
            }
            else
                yield return $"{ldmBlock}.{inner}";
        }
    }

    /// <summary>LDM resnet layers and their diffusers names.</summary>
    private static readonly Dictionary<string, string> ResnetLayers = new(StringComparer.Ordinal)
    {
        ["in_layers.0"] = "norm1",
        ["in_layers.2"] = "conv1",
        ["out_layers.0"] = "norm2",
        ["out_layers.3"] = "conv2",
        ["emb_layers.1"] = "time_emb_proj",
        ["skip_connection"] = "conv_shortcut",
    };

    /// <summary>LDM modules outside the blocks and their diffusers names.</summary>
    private static readonly (string Ldm, string Diffusers)[] FixedModules =
    [
        ("time_embed.0", "time_embedding.linear_1"),
        ("time_embed.2", "time_embedding.linear_2"),
        ("out.0", "conv_norm_out"),
        ("out.2", "conv_out"),
        ("label_emb.0.0", "add_embedding.linear_1"),
        ("label_emb.0.2", "add_embedding.linear_2"),
    ];
}

/// <summary>
/// The LDM VAE (<c>first_stage_model.*</c>) to diffusers' <c>AutoencoderKL</c>: encoder.down.i / decoder.up.i (the up
/// blocks in reverse order) to down_blocks / up_blocks, block.j → resnets.j, nin_shortcut → conv_shortcut,
/// downsample/upsample → downsamplers.0/upsamplers.0, mid.block_1/2 → mid_block.resnets.0/1, mid.attn_1 (norm, q, k, v,
/// proj_out stored as 1×1 conv weights) → mid_block.attentions.0 (group_norm, to_q, to_k, to_v, to_out.0 linear),
/// norm_out → conv_norm_out. The decoder's up levels are counted down from the highest index present in the file
/// (<paramref name="highestUpIndex"/>): LDM numbers them by resolution, so up.{top} is diffusers' up_blocks.0. For a
/// full-size 4-level VAE that is up.3; conversion scripts that hard-code 3 − i write the same top index for smaller VAEs.
/// </summary>
internal sealed partial class VaeKeyConverter(AutoencoderKLConfig config, int? highestUpIndex = null) : ILdmKeyConverter
{
    [GeneratedRegex(@"^(encoder|decoder)\.(?:(down|up)\.(\d+)\.(block\.(\d+)|downsample|upsample)|mid\.(block_1|block_2|attn_1))\.(.+)$")]
    private static partial Regex BlockKey();

    public IReadOnlyList<WeightTarget>? Convert(string key, long[] shape)
    {
        if (key.StartsWith("quant_conv.", StringComparison.Ordinal) || key.StartsWith("post_quant_conv.", StringComparison.Ordinal))
            return ConverterShapes.As(key, shape);
        foreach (var half in (string[])["encoder.", "decoder."])
        {
            if (!key.StartsWith(half, StringComparison.Ordinal))
                continue;
            var rest = key[half.Length..];
            if (rest.StartsWith("conv_in.", StringComparison.Ordinal) || rest.StartsWith("conv_out.", StringComparison.Ordinal))
                return ConverterShapes.As(key, shape);
            if (rest.StartsWith("norm_out.", StringComparison.Ordinal))
                return ConverterShapes.As(half + "conv_norm_out." + rest["norm_out.".Length..], shape);
        }

        var match = BlockKey().Match(key);
        if (!match.Success)
            return [];
        var half2 = match.Groups[1].Value;
        var inner = match.Groups[7].Value;
        var n = config.BlockOutChannels.Count;
        if (match.Groups[2].Success)
        {
            var index = int.Parse(match.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture);
            var top = highestUpIndex ?? n - 1;
            var (blocks, blockIndex) = match.Groups[2].Value == "down" ? ("down_blocks", index) : ("up_blocks", top - index);
            if (blockIndex < 0 || blockIndex >= n)
                return [];
            var prefix = $"{half2}.{blocks}.{blockIndex}";
            if (match.Groups[5].Success)
                return ConverterShapes.As($"{prefix}.resnets.{match.Groups[5].Value}.{ResnetInner(inner)}", shape);
            var sampler = match.Groups[4].Value == "downsample" ? "downsamplers" : "upsamplers";
            return ConverterShapes.As($"{prefix}.{sampler}.0.{inner}", shape);
        }
        var mid = match.Groups[6].Value;
        if (mid != "attn_1")
            return ConverterShapes.As($"{half2}.mid_block.resnets.{(mid == "block_1" ? 0 : 1)}.{ResnetInner(inner)}", shape);
        var dot = inner.LastIndexOf('.');
        if (dot < 0)
            return [];
        var layer = inner[..dot] switch
        {
            "norm" => "group_norm",
            "q" => "to_q",
            "k" => "to_k",
            "v" => "to_v",
            "proj_out" => "to_out.0",
            _ => null,
        };
        if (layer is null)
            return [];
        var target = $"{half2}.mid_block.attentions.0.{layer}{inner[dot..]}";
        return layer == "group_norm" ? ConverterShapes.As(target, shape) : ConverterShapes.ConvToLinear(target, shape);
    }

    private static string ResnetInner(string inner) =>
        inner.StartsWith("nin_shortcut.", StringComparison.Ordinal) ? "conv_shortcut." + inner["nin_shortcut.".Length..] : inner;
}

/// <summary>
/// A transformers CLIP text model stored under a prefix (SD1 <c>cond_stage_model.transformer.</c>, SDXL
/// <c>conditioner.embedders.0.transformer.</c>): the names are the module's own; position_ids buffers are skipped.
/// Very old files without the <c>text_model.</c> level get it added.
/// </summary>
internal sealed class TransformersClipKeyConverter : ILdmKeyConverter
{
    public IReadOnlyList<WeightTarget>? Convert(string key, long[] shape)
    {
        if (!key.StartsWith("text_model.", StringComparison.Ordinal) && !key.StartsWith("text_projection.", StringComparison.Ordinal))
            key = "text_model." + key;
        if (key == ClipWeights.PositionIdsKey)
            return null;
        return ConverterShapes.As(key, shape);
    }
}

/// <summary>
/// An OpenCLIP text tower (SD2 <c>cond_stage_model.model.</c>, SDXL <c>conditioner.embedders.1.model.</c>) to
/// transformers' CLIP text model: token_embedding, positional_embedding → embeddings; transformer.resblocks.N
/// (ln_1, attn.in_proj_weight/bias split into q/k/v, attn.out_proj, ln_2, mlp.c_fc, mlp.c_proj) → encoder.layers.N;
/// ln_final → final_layer_norm; text_projection (a [width, projection] matrix, transposed) → text_projection.weight
/// when the model has a projection, skipped otherwise (SD2's CLIPTextModel). Resblocks at or beyond the config's
/// layer count are skipped when <paramref name="dropLayersBeyondConfig"/> (diffusers' SD2 text encoder keeps only the
/// layers up to the penultimate one that SD2 conditions on).
/// </summary>
internal sealed partial class OpenClipKeyConverter(ClipTextConfig config, bool withProjection, bool dropLayersBeyondConfig) : ILdmKeyConverter
{
    [GeneratedRegex(@"^transformer\.resblocks\.(\d+)\.(.+)$")]
    private static partial Regex ResblockKey();

    public IReadOnlyList<WeightTarget>? Convert(string key, long[] shape)
    {
        switch (key)
        {
            case "token_embedding.weight":
                return ConverterShapes.As("text_model.embeddings.token_embedding.weight", shape);
            case "positional_embedding":
                return ConverterShapes.As("text_model.embeddings.position_embedding.weight", shape);
            case "ln_final.weight" or "ln_final.bias":
                return ConverterShapes.As("text_model.final_layer_norm." + key["ln_final.".Length..], shape);
            case "logit_scale" or "attn_mask":
                return null;
            case "text_projection":
                if (!withProjection)
                    return null;
                if (shape.Length != 2)
                    return [];
                long[] transposed = [shape[1], shape[0]];
                return [new WeightTarget("text_projection.weight", transposed, t => t.t())];
            case "text_projection.weight":
                return withProjection ? ConverterShapes.As("text_projection.weight", shape) : null;
        }

        var match = ResblockKey().Match(key);
        if (!match.Success)
            return [];
        var layer = int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        if (dropLayersBeyondConfig && layer >= config.NumHiddenLayers)
            return null;
        var prefix = $"text_model.encoder.layers.{layer}";
        var inner = match.Groups[2].Value;
        if (inner is "attn.in_proj_weight" or "attn.in_proj_bias")
        {
            if (shape.Length == 0 || shape[0] % 3 != 0)
                return [];
            var width = shape[0] / 3;
            var part = inner.EndsWith("weight", StringComparison.Ordinal) ? "weight" : "bias";
            var sliced = (long[])shape.Clone();
            sliced[0] = width;
            return
            [
                new WeightTarget($"{prefix}.self_attn.q_proj.{part}", sliced, t => t.narrow(0, 0, width)),
                new WeightTarget($"{prefix}.self_attn.k_proj.{part}", sliced, t => t.narrow(0, width, width)),
                new WeightTarget($"{prefix}.self_attn.v_proj.{part}", sliced, t => t.narrow(0, 2 * width, width)),
            ];
        }
        var dot = inner.LastIndexOf('.');
        if (dot < 0)
            return [];
        var renamed = inner[..dot] switch
        {
            "ln_1" => "layer_norm1",
            "ln_2" => "layer_norm2",
            "attn.out_proj" => "self_attn.out_proj",
            "mlp.c_fc" => "mlp.fc1",
            "mlp.c_proj" => "mlp.fc2",
            _ => null,
        };
        return renamed is null ? [] : ConverterShapes.As($"{prefix}.{renamed}{inner[dot..]}", shape);
    }
}
