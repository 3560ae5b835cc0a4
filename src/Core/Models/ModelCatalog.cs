using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using Easel.Core.Options;
using Microsoft.Extensions.Options;

namespace Easel.Core.Models;

/// <summary>The models this service may run, from configuration, with their family read from the folder's JSON.</summary>
public interface IModelCatalog
{
    IReadOnlyList<ModelInfo> Models { get; }

    /// <summary>The model used when a request names none; null when there is no default.</summary>
    string? DefaultModel { get; }

    bool TryGet(string name, [NotNullWhen(true)] out ModelInfo? model);
}

/// <summary>Architecture family of a diffusers Stable Diffusion folder.</summary>
public enum ModelFamily
{
    Unknown,
    Sd15,
    Sd2,
    Sdxl,
}

/// <param name="Inpainting">The UNet takes 9 input channels (latents, mask, masked-image latents).</param>
/// <param name="Problem">Why the family could not be read, when <paramref name="Family"/> is Unknown.</param>
/// <param name="VaeScaleFactor">Pixels per latent cell along each side (2^(len(vae block_out_channels) − 1): 8 for every
/// released SD model, 2 for the tiny test fixtures); input images must have sides that are multiples of it.</param>
public sealed record ModelInfo(string Name, string Path, ModelFamily Family, bool Inpainting, bool IsDefault, string? Problem = null,
    int VaeScaleFactor = 8);

/// <summary>
/// Reads only model_index.json and unet/config.json of each configured folder; never loads weights or libtorch.
/// </summary>
public sealed class ModelCatalog : IModelCatalog
{
    private readonly Dictionary<string, ModelInfo> _byName;

    public ModelCatalog(IOptions<ModelsOptions> options)
    {
        var value = options.Value;
        DefaultModel = value.ResolvedDefaultModel;
        Models = value.Models
            .OrderBy(m => m.Key, StringComparer.Ordinal)
            .Select(m => Describe(m.Key, m.Value.Path, m.Key == DefaultModel))
            .ToList();
        _byName = Models.ToDictionary(m => m.Name, StringComparer.Ordinal);
    }

    public IReadOnlyList<ModelInfo> Models { get; }

    public string? DefaultModel { get; }

    public bool TryGet(string name, [NotNullWhen(true)] out ModelInfo? model) => _byName.TryGetValue(name, out model);

    /// <summary>Reads the family of one diffusers folder.</summary>
    public static ModelInfo Describe(string name, string path, bool isDefault = false)
    {
        var fullPath = System.IO.Path.GetFullPath(path);
        try
        {
            var (family, inpainting) = DetectFamily(fullPath);
            return new ModelInfo(name, fullPath, family, inpainting, isDefault, VaeScaleFactor: ReadVaeScaleFactor(fullPath));
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException or InvalidDataException)
        {
            return new ModelInfo(name, fullPath, ModelFamily.Unknown, false, isDefault, e.Message);
        }
    }

    /// <summary>
    /// 2^(len(block_out_channels) − 1) of vae/config.json, as diffusers computes <c>vae_scale_factor</c>; 8 when the
    /// folder has no VAE config or the list is missing.
    /// </summary>
    public static int ReadVaeScaleFactor(string folder)
    {
        var path = System.IO.Path.Combine(folder, "vae", "config.json");
        if (!File.Exists(path))
            return 8;
        using var vae = JsonDocument.Parse(File.ReadAllText(path));
        return vae.RootElement.TryGetProperty("block_out_channels", out var blocks) && blocks.ValueKind == JsonValueKind.Array
            && blocks.GetArrayLength() > 0
                ? 1 << (blocks.GetArrayLength() - 1)
                : 8;
    }

    /// <summary>
    /// SDXL when the UNet has the text_time addition embedding (or the pipeline class says XL); SD 2.x when it uses
    /// linear projections or 1024-wide cross-attention (OpenCLIP ViT-H); SD 1.x otherwise. 9 input channels = inpainting.
    /// </summary>
    public static (ModelFamily Family, bool Inpainting) DetectFamily(string folder)
    {
        using var index = JsonDocument.Parse(File.ReadAllText(System.IO.Path.Combine(folder, "model_index.json")));
        var unetConfig = System.IO.Path.Combine(folder, "unet", "config.json");
        if (!File.Exists(unetConfig))
            throw new InvalidDataException($"'{folder}' has no unet/config.json.");
        using var unet = JsonDocument.Parse(File.ReadAllText(unetConfig));
        var root = unet.RootElement;

        var pipelineClass = index.RootElement.TryGetProperty("_class_name", out var c) && c.ValueKind == JsonValueKind.String
            ? c.GetString() ?? ""
            : "";
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
        var inChannels = root.TryGetProperty("in_channels", out var i) && i.ValueKind == JsonValueKind.Number ? i.GetInt32() : 4;

        var family = additionEmbed == "text_time" || pipelineClass.StartsWith("StableDiffusionXL", StringComparison.Ordinal)
            ? ModelFamily.Sdxl
            : linearProjection || crossAttentionDims.Contains(1024)
                ? ModelFamily.Sd2
                : ModelFamily.Sd15;
        return (family, inChannels == 9);
    }
}
