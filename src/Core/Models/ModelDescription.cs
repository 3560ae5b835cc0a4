using System.Text.Json;

namespace Easel.Core.Models;

/// <summary>
/// Reads what a diffusers folder says about itself from its JSON files (model_index.json, unet/, vae/, scheduler/ configs
/// and the optional <see cref="DefaultsFileName"/>); never loads weights or libtorch.
/// </summary>
public static class ModelDescription
{
    /// <summary>
    /// A model's recommended request values, beside model_index.json: <c>{"steps": 20, "guidance_scale": 7.5,
    /// "scheduler": "ddim"}</c>, each optional, plus optional <c>width</c>/<c>height</c> when the native size is not the
    /// recommended one.
    /// </summary>
    public const string DefaultsFileName = "model_defaults.json";

    /// <summary>Describes one diffusers folder; a folder that cannot be read is described by its problem.</summary>
    public static ModelInfo DescribeFolder(string name, string path, bool isDefault = false, ModelDefaultsOverride? overrides = null)
    {
        var fullPath = Path.GetFullPath(path);
        try
        {
            if (ReadJson(Path.Combine(fullPath, "config.json")) is { } config)
            {
                using (config)
                {
                    if (ClassName(config.RootElement) == ControlNetClassName)
                        return new ModelInfo(name, fullPath, FamilyOf(config.RootElement, ""), false, isDefault, Kind: ModelKind.ControlNet,
                            Layout: UNetLayout.Read(config.RootElement));
                    if (ClassName(config.RootElement) == T2IAdapterClassName)
                        return DescribeAdapter(name, fullPath, isDefault, config.RootElement);
                }
            }
            var (family, inpainting) = DetectFamily(fullPath);
            var vaeScaleFactor = ReadVaeScaleFactor(fullPath);
            var sampleSize = ReadSampleSize(fullPath);
            using var unet = ReadJson(Path.Combine(fullPath, "unet", "config.json"));
            return new ModelInfo(name, fullPath, family, inpainting, isDefault, VaeScaleFactor: vaeScaleFactor, SampleSize: sampleSize,
                Defaults: RecommendedDefaults(fullPath, sampleSize * vaeScaleFactor, overrides), Layout: UNetLayout.Read(unet!.RootElement));
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException or InvalidDataException)
        {
            return new ModelInfo(name, fullPath, ModelFamily.Unknown, false, isDefault, e.Message);
        }
    }

    /// <summary>
    /// The model's recommended values: <paramref name="overrides"/> (configuration) first, then the folder's
    /// <see cref="DefaultsFileName"/>, then what its scheduler implies (an LCM scheduler: 4 steps, no guidance, as the
    /// latent consistency papers sample), then the native size.
    /// </summary>
    public static ModelDefaults RecommendedDefaults(string folder, int nativeSize, ModelDefaultsOverride? overrides = null)
    {
        var fromFile = ReadDefaultsFile(folder);
        var lcm = SchedulerClass(folder) == "LCMScheduler";
        return new ModelDefaults(
            overrides?.Width ?? fromFile?.Width ?? nativeSize,
            overrides?.Height ?? fromFile?.Height ?? nativeSize,
            overrides?.Steps ?? fromFile?.Steps ?? (lcm ? 4 : null),
            overrides?.GuidanceScale ?? fromFile?.GuidanceScale ?? (lcm ? 1.0 : null),
            overrides?.Scheduler ?? fromFile?.Scheduler ?? (lcm ? "lcm" : null));
    }

    /// <summary>The folder's <see cref="DefaultsFileName"/>, or null when it has none.</summary>
    public static ModelDefaultsOverride? ReadDefaultsFile(string folder)
    {
        var path = Path.Combine(folder, DefaultsFileName);
        if (!File.Exists(path))
            return null;
        try
        {
            return JsonSerializer.Deserialize<ModelDefaultsOverride>(File.ReadAllText(path), Jobs.JobJson.Options);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}' is not a valid {DefaultsFileName}: {e.Message}", e);
        }
    }

    /// <summary>
    /// 2^(len(block_out_channels) − 1) of vae/config.json, as diffusers computes <c>vae_scale_factor</c>; 8 when the
    /// folder has no VAE config or the list is missing.
    /// </summary>
    public static int ReadVaeScaleFactor(string folder)
    {
        using var vae = ReadJson(Path.Combine(folder, "vae", "config.json"));
        return vae?.RootElement.TryGetProperty("block_out_channels", out var blocks) == true && blocks.ValueKind == JsonValueKind.Array
            && blocks.GetArrayLength() > 0
                ? 1 << (blocks.GetArrayLength() - 1)
                : 8;
    }

    /// <summary>unet/config.json <c>sample_size</c> (diffusers' default 64 when it is missing).</summary>
    public static int ReadSampleSize(string folder)
    {
        using var unet = ReadJson(Path.Combine(folder, "unet", "config.json"));
        return unet?.RootElement.TryGetProperty("sample_size", out var size) == true && size.ValueKind == JsonValueKind.Number
            ? size.GetInt32()
            : 64;
    }

    /// <summary>
    /// SDXL when the UNet has the text_time addition embedding (or the pipeline class says XL); SD 2.x when it uses
    /// linear projections or 1024-wide cross-attention (OpenCLIP ViT-H); SD 1.x otherwise. 9 input channels = inpainting.
    /// </summary>
    public static (ModelFamily Family, bool Inpainting) DetectFamily(string folder)
    {
        using var index = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "model_index.json")));
        var unetConfig = Path.Combine(folder, "unet", "config.json");
        if (!File.Exists(unetConfig))
            throw new InvalidDataException($"'{folder}' has no unet/config.json.");
        using var unet = JsonDocument.Parse(File.ReadAllText(unetConfig));
        var root = unet.RootElement;

        var inChannels = root.TryGetProperty("in_channels", out var i) && i.ValueKind == JsonValueKind.Number ? i.GetInt32() : 4;
        return (FamilyOf(root, ClassName(index.RootElement) ?? ""), inChannels == 9);
    }

    /// <summary>The family of a UNet (or ControlNet) config, see <see cref="DetectFamily"/>.</summary>
    private static ModelFamily FamilyOf(JsonElement root, string pipelineClass)
    {
        var additionEmbed = root.TryGetProperty("addition_embed_type", out var a) && a.ValueKind == JsonValueKind.String
            ? a.GetString()
            : null;
        var linearProjection = root.TryGetProperty("use_linear_projection", out var l) && l.ValueKind == JsonValueKind.True;
        var crossAttentionDims = root.TryGetProperty("cross_attention_dim", out var x)
            ? x.ValueKind switch
            {
                JsonValueKind.Number => [x.GetInt32()],
                JsonValueKind.Array => x.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.Number).Select(e => e.GetInt32()).ToArray(),
                _ => Array.Empty<int>(),
            }
            : [];
        return additionEmbed == "text_time" || pipelineClass.StartsWith("StableDiffusionXL", StringComparison.Ordinal)
            ? ModelFamily.Sdxl
            : linearProjection || crossAttentionDims.Contains(1024)
                ? ModelFamily.Sd2
                : ModelFamily.Sd15;
    }

    /// <summary>The <c>_class_name</c> of a diffusers ControlNet's config.json.</summary>
    public const string ControlNetClassName = "ControlNetModel";

    /// <summary>The <c>_class_name</c> of a diffusers T2I-Adapter's config.json.</summary>
    public const string T2IAdapterClassName = "T2IAdapter";

    /// <summary>
    /// A T2I-Adapter: full_adapter_xl is SDXL's, the others fit SD 1.x and 2.x alike (their features only need the UNet's
    /// block channels, which the layout's <see cref="UNetLayout.BlockOutChannels"/> holds).
    /// </summary>
    private static ModelInfo DescribeAdapter(string name, string path, bool isDefault, JsonElement config)
    {
        var type = config.TryGetProperty("adapter_type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : "full_adapter";
        if (type is not ("full_adapter" or "full_adapter_xl" or "light_adapter"))
            throw new InvalidDataException($"Unsupported adapter_type '{type}' (full_adapter, full_adapter_xl or light_adapter).");
        var channels = config.TryGetProperty("channels", out var c) && c.ValueKind == JsonValueKind.Array
            ? c.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.Number).Select(e => e.GetInt32()).ToList()
            : [320, 640, 1280, 1280];
        return new ModelInfo(name, path, type == "full_adapter_xl" ? ModelFamily.Sdxl : ModelFamily.Sd15, false, isDefault,
            Kind: ModelKind.T2IAdapter, Layout: new UNetLayout(channels, [], []));
    }

    private static string? ClassName(JsonElement config) =>
        config.ValueKind == JsonValueKind.Object && config.TryGetProperty("_class_name", out var name) && name.ValueKind == JsonValueKind.String
            ? name.GetString()
            : null;

    private static string? SchedulerClass(string folder)
    {
        using var scheduler = ReadJson(Path.Combine(folder, "scheduler", "scheduler_config.json"));
        return scheduler?.RootElement.TryGetProperty("_class_name", out var name) == true && name.ValueKind == JsonValueKind.String
            ? name.GetString()
            : null;
    }

    private static JsonDocument? ReadJson(string path) => File.Exists(path) ? JsonDocument.Parse(File.ReadAllText(path)) : null;
}

/// <summary>
/// Recommended values set for one model (<c>Easel:Models:&lt;name&gt;:Defaults:*</c>, or the model folder's
/// <see cref="ModelDescription.DefaultsFileName"/>); each null value falls through to the next source.
/// </summary>
public sealed class ModelDefaultsOverride
{
    public int? Width { get; set; }

    public int? Height { get; set; }

    public int? Steps { get; set; }

    public double? GuidanceScale { get; set; }

    public string? Scheduler { get; set; }
}
