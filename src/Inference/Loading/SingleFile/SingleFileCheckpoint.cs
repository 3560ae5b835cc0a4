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
    private readonly SafeTensorsFile _file;
    private readonly SingleFileHeader _header;

    private SingleFileCheckpoint(SingleFileHeader header, SafeTensorsFile file)
    {
        _header = header;
        _file = file;
    }

    /// <summary>The path the checkpoint was opened from.</summary>
    public string Path => _header.Path;

    /// <summary>The detected family.</summary>
    public ModelFamily Family => _header.Family;

    /// <summary>Every key of the file with its shape.</summary>
    public IReadOnlyDictionary<string, long[]> Shapes => _header.Shapes;

    /// <summary>The file's <c>__metadata__</c>.</summary>
    public IReadOnlyDictionary<string, string> Metadata => _header.Metadata;

    /// <summary>
    /// Opens a .safetensors single-file checkpoint after checking its header (<see cref="SingleFileHeader.Read"/>:
    /// family detected, every key belongs to a component or is a known unused key) and memory-maps it.
    /// </summary>
    /// <exception cref="NotSupportedException">The file is a pickle (.ckpt/.pt/.pth/.bin, or pickle/zip content).</exception>
    /// <exception cref="InvalidDataException">The file is not a Stable Diffusion checkpoint in the original layout.</exception>
    /// <exception cref="CheckpointMismatchException">The file holds keys that belong to no component.</exception>
    public static SingleFileCheckpoint Open(string path) => new(SingleFileHeader.Read(path), SafeTensorsFile.Open(path));

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
    /// files: take them from <see cref="ComponentFolder"/>(baseConfig, "tokenizer" / "tokenizer_2" / "scheduler") or
    /// <see cref="DefaultConfigs"/>.
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
        new SingleFileWeightSource(_file, $"{System.IO.Path.GetFileName(Path)} ({component})", prefix, converter, SingleFileHeader.IsIgnored);

    private int? HighestDecoderUpIndex()
    {
        const string prefix = FamilyDetector.VaePrefix + "decoder.up.";
        int? highest = null;
        foreach (var key in Shapes.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)))
        {
            var end = key.IndexOf('.', prefix.Length);
            if (end > prefix.Length && int.TryParse(key.AsSpan(prefix.Length, end - prefix.Length), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index))
                highest = Math.Max(highest ?? index, index);
        }
        return highest;
    }

    private static ClipTextConfig ReadClipConfig(string folder) => ConfigJson.Read<ClipTextConfig>(System.IO.Path.Combine(folder, "config.json"));
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
