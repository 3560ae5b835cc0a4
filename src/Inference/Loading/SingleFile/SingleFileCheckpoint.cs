using Easel.Inference.Models.UNet;
using Easel.Inference.Models.Vae;
using Easel.Inference.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Loading.SingleFile;

/// <summary>
/// A single-file Stable Diffusion checkpoint in the original (LDM / SGM) key layout, as most users download it
/// (SD 1.x, SD 2.x, their inpainting variants, SDXL). The file is memory-mapped; each component is built from a
/// config (a diffusers folder of the same architecture, or the family's built-in default) and filled one stored tensor
/// at a time with its key converted to the diffusers name on the fly — no converted copy on disk or in memory.
/// Loading is strict: keys real files carry but no model uses (EMA weights, schedule buffers such as alphas_cumprod,
/// position_ids, logit_scale) are skipped, every other key must fill a parameter, and errors name the keys.
/// Only safetensors files are read: pickle-based .ckpt/.pt/.pth/.bin files can execute code when loaded and are refused.
/// </summary>
public sealed class SingleFileCheckpoint : IDisposable
{
    private static readonly string[] PickleExtensions = [".ckpt", ".pt", ".pth", ".bin", ".pkl"];

    // Buffers of the LDM training wrapper (DDPM schedule, loss weights) and EMA copies: present in real files, unused here.
    private static readonly HashSet<string> IgnoredKeys = new(StringComparer.Ordinal)
    {
        "alphas_cumprod", "alphas_cumprod_prev", "betas", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
        "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod", "posterior_variance",
        "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2", "logvar", "lvlb_weights",
    };

    private readonly SafeTensorsFile _file;
    private readonly Dictionary<string, long[]> _shapes;

    private SingleFileCheckpoint(SafeTensorsFile file)
    {
        _file = file;
        _shapes = file.Keys.ToDictionary(k => k, k => file[k].Shape, StringComparer.Ordinal);
        Family = FamilyDetector.Detect(_shapes);
        var unclaimed = _shapes.Keys.Where(k => !IsIgnored(k) && ComponentOf(k) is null).Order(StringComparer.Ordinal).ToList();
        if (unclaimed.Count > 0)
            throw new CheckpointMismatchException($"{System.IO.Path.GetFileName(Path)} ({Family} single file)", [], unclaimed, []);
    }

    /// <summary>The path the checkpoint was opened from.</summary>
    public string Path => _file.Path;

    /// <summary>The detected family.</summary>
    public ModelFamily Family { get; }

    /// <summary>Every key of the file with its shape.</summary>
    public IReadOnlyDictionary<string, long[]> Shapes => _shapes;

    /// <summary>The file's <c>__metadata__</c>.</summary>
    public IReadOnlyDictionary<string, string> Metadata => _file.Metadata;

    /// <summary>
    /// Opens a .safetensors single-file checkpoint, detects its family and checks that every key belongs to a
    /// component or is a known unused key.
    /// </summary>
    /// <exception cref="NotSupportedException">The file is a pickle (.ckpt/.pt/.pth/.bin, or pickle/zip content).</exception>
    /// <exception cref="InvalidDataException">The file is not a Stable Diffusion checkpoint in the original layout.</exception>
    /// <exception cref="CheckpointMismatchException">The file holds keys that belong to no component.</exception>
    public static SingleFileCheckpoint Open(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"Checkpoint '{path}' does not exist.", path);
        RefusePickleExtension(path);
        SafeTensorsFile file;
        try
        {
            file = SafeTensorsFile.Open(path);
        }
        catch (Exception e) when (e is InvalidDataException or System.Text.Json.JsonException or IOException && LooksLikePickle(path))
        {
            throw new NotSupportedException(
                $"'{System.IO.Path.GetFileName(path)}' holds pickle data (a torch.save file named {System.IO.Path.GetExtension(path)}): unpickling can execute arbitrary code, so it is refused. " +
                "Convert it to .safetensors with a trusted tool first.", e);
        }
        try
        {
            return new SingleFileCheckpoint(file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The UNet; <paramref name="baseConfig"/> is a diffusers model folder (holding unet/) or the unet folder itself; null = the family's built-in config.</summary>
    public UNet2DConditionModel LoadUNet(string? baseConfig = null, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        var config = baseConfig is null ? DefaultConfigs.UNet(Family) : UNet2DConditionConfig.Load(ComponentFolder(baseConfig, "unet"));
        return UNet2DConditionModel.FromWeights(config, UNetWeights(config), device, dtype);
    }

    /// <summary>The VAE; <paramref name="baseConfig"/> as for <see cref="LoadUNet"/> (vae/).</summary>
    public AutoencoderKL LoadVae(string? baseConfig = null, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        var config = baseConfig is null ? DefaultConfigs.Vae(Family) : AutoencoderKLConfig.Load(ComponentFolder(baseConfig, "vae"));
        return AutoencoderKL.FromWeights(config, VaeWeights(config), device, dtype);
    }

    /// <summary>The (first) text encoder: CLIP ViT-L for SD1 and SDXL, the converted OpenCLIP ViT-H for SD2.</summary>
    public ClipTextModel LoadTextEncoder(string? baseConfig = null, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        var config = baseConfig is null ? DefaultConfigs.TextEncoder(Family) : ReadClipConfig(ComponentFolder(baseConfig, "text_encoder"));
        return ClipTextModel.FromWeights(config, TextEncoderWeights(config), device, dtype);
    }

    /// <summary>SDXL's second text encoder (OpenCLIP bigG as CLIPTextModelWithProjection, text_encoder_2).</summary>
    public ClipTextModelWithProjection LoadTextEncoder2(string? baseConfig = null, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        var config = baseConfig is null ? DefaultConfigs.TextEncoder2(Family) : ReadClipConfig(ComponentFolder(baseConfig, "text_encoder_2"));
        return ClipTextModelWithProjection.FromWeights(config, TextEncoder2Weights(config), device, dtype);
    }

    /// <summary>The UNet's tensors under diffusers names, for a model built from <paramref name="config"/>.</summary>
    public IWeightSource UNetWeights(UNet2DConditionConfig config) =>
        Slice("unet", FamilyDetector.UNetPrefix, new UNetKeyConverter(config));

    /// <summary>The VAE's tensors under diffusers names, for a model built from <paramref name="config"/>.</summary>
    public IWeightSource VaeWeights(AutoencoderKLConfig config) =>
        Slice("vae", FamilyDetector.VaePrefix, new VaeKeyConverter(config, HighestDecoderUpIndex()));

    /// <summary>The first text encoder's tensors under transformers CLIPTextModel names.</summary>
    public IWeightSource TextEncoderWeights(ClipTextConfig config) => Family switch
    {
        ModelFamily.StableDiffusion1 or ModelFamily.StableDiffusion1Inpainting =>
            Slice("text_encoder", FamilyDetector.Sd1TextPrefix, new TransformersClipKeyConverter()),
        ModelFamily.StableDiffusion2 or ModelFamily.StableDiffusion2Inpainting =>
            Slice("text_encoder", FamilyDetector.Sd2TextPrefix, new OpenClipKeyConverter(config, withProjection: false, dropLayersBeyondConfig: true)),
        ModelFamily.StableDiffusionXL or ModelFamily.StableDiffusionXLInpainting =>
            Slice("text_encoder", FamilyDetector.XlTextPrefix, new TransformersClipKeyConverter()),
        _ => throw new NotSupportedException($"A {Family} checkpoint has no first text encoder (text_encoder); it has only text_encoder_2."),
    };

    /// <summary>SDXL's second text encoder's tensors under transformers CLIPTextModelWithProjection names.</summary>
    public IWeightSource TextEncoder2Weights(ClipTextConfig config) => Family switch
    {
        ModelFamily.StableDiffusionXL or ModelFamily.StableDiffusionXLInpainting =>
            Slice("text_encoder_2", FamilyDetector.XlText2Prefix, new OpenClipKeyConverter(config, withProjection: true, dropLayersBeyondConfig: false)),
        ModelFamily.StableDiffusionXLRefiner =>
            Slice("text_encoder_2", FamilyDetector.RefinerText2Prefix, new OpenClipKeyConverter(config, withProjection: true, dropLayersBeyondConfig: false)),
        _ => throw new NotSupportedException($"A {Family} checkpoint has no second text encoder (text_encoder_2)."),
    };

    /// <summary>
    /// Every model component of the file (text encoders the family has, UNet, VAE), each built from
    /// <paramref name="baseConfig"/> or the family's built-in config. Tokenizers and the scheduler are not in single
    /// files: take them from <see cref="ComponentFolder"/>(baseConfig, "tokenizer" / "tokenizer_2" / "scheduler").
    /// </summary>
    public SingleFileComponents LoadComponents(string? baseConfig = null, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        ClipTextModel? textEncoder = null;
        ClipTextModelWithProjection? textEncoder2 = null;
        UNet2DConditionModel? unet = null;
        try
        {
            if (Family.HasTextEncoder())
                textEncoder = LoadTextEncoder(baseConfig, device, dtype);
            if (Family.HasTextEncoder2())
                textEncoder2 = LoadTextEncoder2(baseConfig, device, dtype);
            unet = LoadUNet(baseConfig, device, dtype);
            var vae = LoadVae(baseConfig, device, dtype);
            return new SingleFileComponents(Family, textEncoder, textEncoder2, unet, vae);
        }
        catch
        {
            textEncoder?.Dispose();
            textEncoder2?.Dispose();
            unet?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The folder of one component given a base config: <paramref name="component"/>/ inside a diffusers model folder
    /// (unet, vae, text_encoder, tokenizer, scheduler, …), or the base itself when it is that component's folder (holds config.json).
    /// </summary>
    public static string ComponentFolder(string baseConfig, string component)
    {
        var nested = System.IO.Path.Combine(baseConfig, component);
        if (Directory.Exists(nested))
            return nested;
        if (File.Exists(System.IO.Path.Combine(baseConfig, "config.json")))
            return baseConfig;
        throw new DirectoryNotFoundException($"Base config '{baseConfig}' has no {component}/ folder (pass a diffusers model folder of the same architecture).");
    }

    public void Dispose() => _file.Dispose();

    private IWeightSource Slice(string component, string prefix, ILdmKeyConverter converter) =>
        new SingleFileWeightSource(_file, $"{System.IO.Path.GetFileName(Path)} ({component})", prefix, converter, IsIgnored);

    private int? HighestDecoderUpIndex()
    {
        const string prefix = FamilyDetector.VaePrefix + "decoder.up.";
        int? highest = null;
        foreach (var key in _shapes.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)))
        {
            var end = key.IndexOf('.', prefix.Length);
            if (end > prefix.Length && int.TryParse(key.AsSpan(prefix.Length, end - prefix.Length), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index))
                highest = Math.Max(highest ?? index, index);
        }
        return highest;
    }

    private static ClipTextConfig ReadClipConfig(string folder) => ConfigJson.Read<ClipTextConfig>(System.IO.Path.Combine(folder, "config.json"));

    private string? ComponentOf(string key)
    {
        if (key.StartsWith(FamilyDetector.UNetPrefix, StringComparison.Ordinal))
            return "unet";
        if (key.StartsWith(FamilyDetector.VaePrefix, StringComparison.Ordinal))
            return "vae";
        var prefixes = Family switch
        {
            ModelFamily.StableDiffusion1 or ModelFamily.StableDiffusion1Inpainting => [FamilyDetector.Sd1TextPrefix],
            ModelFamily.StableDiffusion2 or ModelFamily.StableDiffusion2Inpainting => [FamilyDetector.Sd2TextPrefix],
            ModelFamily.StableDiffusionXL or ModelFamily.StableDiffusionXLInpainting => [FamilyDetector.XlTextPrefix, FamilyDetector.XlText2Prefix],
            ModelFamily.StableDiffusionXLRefiner => (string[])[FamilyDetector.RefinerText2Prefix],
            _ => [],
        };
        return prefixes.FirstOrDefault(p => key.StartsWith(p, StringComparison.Ordinal));
    }

    /// <summary>Keys real single files carry that no component uses.</summary>
    internal static bool IsIgnored(string key) =>
        IgnoredKeys.Contains(key)
        || key.StartsWith("model_ema.", StringComparison.Ordinal)
        || key.EndsWith(".position_ids", StringComparison.Ordinal)
        || key.EndsWith(".logit_scale", StringComparison.Ordinal);

    private static void RefusePickleExtension(string path)
    {
        var extension = System.IO.Path.GetExtension(path);
        if (PickleExtensions.Contains(extension, StringComparer.OrdinalIgnoreCase))
            throw new NotSupportedException(
                $"'{System.IO.Path.GetFileName(path)}' is a pickle-based checkpoint ({extension}): unpickling can execute arbitrary code, so it is refused. " +
                "Convert it to .safetensors with a trusted tool first.");
    }

    // torch.save writes either a raw pickle (protocol 2–5: 0x80 0x02..0x05) or a zip archive holding one.
    private static bool LooksLikePickle(string path)
    {
        Span<byte> head = stackalloc byte[4];
        using var stream = File.OpenRead(path);
        var read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        var isPickle = read >= 2 && head[0] == 0x80 && head[1] is >= 2 and <= 5;
        var isZip = read >= 4 && head[0] == (byte)'P' && head[1] == (byte)'K' && head[2] == 3 && head[3] == 4;
        return isPickle || isZip;
    }
}

/// <summary>The model components of a single file; disposing it disposes every model.</summary>
public sealed record SingleFileComponents(ModelFamily Family, ClipTextModel? TextEncoder, ClipTextModelWithProjection? TextEncoder2,
    UNet2DConditionModel UNet, AutoencoderKL Vae) : IDisposable
{
    public void Dispose()
    {
        TextEncoder?.Dispose();
        TextEncoder2?.Dispose();
        UNet.Dispose();
        Vae.Dispose();
    }
}

/// <summary>One component's slice of a single file: keys under a prefix, converted to diffusers names as they are read.</summary>
internal sealed class SingleFileWeightSource(SafeTensorsFile file, string component, string prefix, ILdmKeyConverter converter, Func<string, bool> ignore) : IWeightSource
{
    public string Component { get; } = component;

    public IEnumerable<StoredTensor> Tensors()
    {
        foreach (var key in file.Keys)
        {
            if (!key.StartsWith(prefix, StringComparison.Ordinal) || ignore(key))
                continue;
            var shape = file[key].Shape;
            var targets = converter.Convert(key[prefix.Length..], shape);
            if (targets is null)
                continue;
            var name = key;
            yield return new StoredTensor(key, shape, () => file.Load(name), targets);
        }
    }
}
