using System.Diagnostics.CodeAnalysis;
using Easel.Core.Options;
using Microsoft.Extensions.Options;

namespace Easel.Core.Models;

/// <summary>Tells the family of a single-file checkpoint from its keys (the inference core knows the LDM/SGM layouts).</summary>
public interface ISingleFileInspector
{
    /// <exception cref="InvalidDataException">The file is not a Stable Diffusion checkpoint this service can load.</exception>
    /// <exception cref="NotSupportedException">The file is a pickle.</exception>
    (ModelFamily Family, bool Inpainting) Inspect(string path);
}

/// <summary>
/// <see cref="ILocalModels"/> from <c>Easel:Models:&lt;name&gt;</c>: a diffusers folder is described from its JSON files, a
/// single <c>.safetensors</c> file from its keys (<see cref="ISingleFileInspector"/>) and the configs it is loaded with
/// (<c>ConfigFrom</c>, or the family's built-in ones). Read once, at start-up.
/// </summary>
public sealed class ConfiguredModels : ILocalModels
{
    private readonly Dictionary<string, ModelInfo> _byName;

    public ConfiguredModels(IOptions<ModelsOptions> options, ISingleFileInspector? singleFiles = null)
    {
        var value = options.Value;
        var described = value.Models
            .OrderBy(m => m.Key, StringComparer.Ordinal)
            .Select(m => Describe(m.Key, m.Value, m.Key == value.ResolvedDefaultModel, singleFiles))
            .ToList();
        // Control models are added to a pipeline, never generate alone: the only pipeline is the default.
        var pipelines = described.Where(m => m.Kind == ModelKind.Pipeline).ToList();
        DefaultModel = value.ResolvedDefaultModel ?? (pipelines.Count == 1 ? pipelines[0].Name : null);
        Models = described.Select(m => m.Name == DefaultModel ? m with { IsDefault = true } : m).ToList();
        _byName = Models.ToDictionary(m => m.Name, StringComparer.Ordinal);
    }

    public IReadOnlyList<ModelInfo> Models { get; }

    public string? DefaultModel { get; }

    public bool TryGet(string name, [NotNullWhen(true)] out ModelInfo? model) => _byName.TryGetValue(name, out model);

    public static ModelInfo Describe(string name, ModelOptions model, bool isDefault, ISingleFileInspector? singleFiles)
    {
        if (!ModelOptions.IsSingleFile(model.Path))
            return ModelDescription.DescribeFolder(name, model.Path, isDefault, model.Defaults);
        var path = Path.GetFullPath(model.Path);
        var configFrom = string.IsNullOrWhiteSpace(model.ConfigFrom) ? null : Path.GetFullPath(model.ConfigFrom);
        if (singleFiles is null)
            return new ModelInfo(name, path, ModelFamily.Unknown, false, isDefault, "Single-file checkpoints are read by the worker side.",
                Format: ModelFormat.SingleFile, ConfigFrom: configFrom);
        try
        {
            var (family, inpainting) = singleFiles.Inspect(path);
            var (sampleSize, vaeScaleFactor) = configFrom is null
                ? (BuiltInSampleSize(family), 8)
                : (ModelDescription.ReadSampleSize(configFrom), ModelDescription.ReadVaeScaleFactor(configFrom));
            var defaults = configFrom is null
                ? DefaultsWithout(sampleSize * vaeScaleFactor, model.Defaults)
                : ModelDescription.RecommendedDefaults(configFrom, sampleSize * vaeScaleFactor, model.Defaults);
            return new ModelInfo(name, path, family, inpainting, isDefault, VaeScaleFactor: vaeScaleFactor, SampleSize: sampleSize,
                Format: ModelFormat.SingleFile, Defaults: defaults, ConfigFrom: configFrom);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or UnauthorizedAccessException
                                      or System.Text.Json.JsonException)
        {
            return new ModelInfo(name, path, ModelFamily.Unknown, false, isDefault, e.Message, Format: ModelFormat.SingleFile, ConfigFrom: configFrom);
        }
    }

    /// <summary>The latent size of the configs the inference core builds a single file of that family with (SD 1.5, SD 2.1 768-v, SDXL base).</summary>
    private static int BuiltInSampleSize(ModelFamily family) => family switch
    {
        ModelFamily.Sd2 => 96,
        ModelFamily.Sdxl => 128,
        _ => 64,
    };

    private static ModelDefaults DefaultsWithout(int nativeSize, ModelDefaultsOverride? overrides) => new(
        overrides?.Width ?? nativeSize, overrides?.Height ?? nativeSize, overrides?.Steps, overrides?.GuidanceScale, overrides?.Scheduler);
}
