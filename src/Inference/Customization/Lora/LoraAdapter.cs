using Easel.Inference.Pipelines;

namespace Easel.Inference.Customization.Lora;

/// <summary>
/// The updates of one LoRA file (<see cref="LoraFile.Load"/>), not yet bound to a model: <see cref="Map"/> finds and checks
/// their layers in a loaded pipeline, <see cref="LoraActivation.Apply"/> adds them for one request. Owns its tensors.
/// </summary>
public sealed class LoraAdapter : IDisposable
{
    /// <summary>The component names LoRA files use, as in diffusers' state dicts.</summary>
    public const string UNet = "unet";
    public const string TextEncoder = "text_encoder";
    public const string TextEncoder2 = "text_encoder_2";

    /// <summary>How many names an error lists.</summary>
    private const int NamesInErrors = 5;

    public LoraAdapter(string name, LoraFormat format, IReadOnlyList<LoraAdapterEntry> entries)
    {
        Name = name;
        Format = format;
        Entries = entries;
    }

    public string Name { get; }

    /// <summary>The layout the file was read from.</summary>
    public LoraFormat Format { get; }

    public IReadOnlyList<LoraAdapterEntry> Entries { get; }

    /// <summary>
    /// Where every update lands in <paramref name="pipeline"/>, with its shapes; nothing is activated. What an upload-time
    /// inspector calls to check a file against a model.
    /// </summary>
    /// <exception cref="ArgumentException">Some updates name no LoRA-capable layer, or do not fit theirs; the message names the first ones.</exception>
    public IReadOnlyList<LoraMapping> Map(StableDiffusionPipeline pipeline)
    {
        var targets = LoraTargets.For(pipeline);
        var mappings = new List<LoraMapping>(Entries.Count);
        var unmapped = new List<string>();
        var misfits = new List<string>();
        foreach (var entry in Entries)
        {
            if (targets.Find(entry.Component, entry.Module) is not { } target)
            {
                unmapped.Add(entry.SourceKey);
                continue;
            }
            if (target.Layer.Misfit(entry.Weights) is { } reason)
            {
                misfits.Add($"{entry.SourceKey} ({target.Module}): {reason}");
                continue;
            }
            mappings.Add(new LoraMapping(entry, target.Module, target.Layer));
        }
        if (unmapped.Count == 0 && misfits.Count == 0)
            return mappings;
        var problems = new List<string>();
        if (unmapped.Count > 0)
            problems.Add($"{unmapped.Count} of {Entries.Count} updates name no layer of this {pipeline.Family} model: {First(unmapped)}");
        if (misfits.Count > 0)
            problems.Add($"{misfits.Count} have shapes that do not fit their layer: {First(misfits)}");
        throw new ArgumentException($"LoRA '{Name}' does not fit '{pipeline.Folder}': {string.Join("; ", problems)}.");
    }

    public void Dispose()
    {
        foreach (var entry in Entries)
        {
            entry.Weights.Down.Dispose();
            entry.Weights.Up.Dispose();
        }
    }

    private static string First(List<string> names) =>
        string.Join(", ", names.Take(NamesInErrors)) + (names.Count > NamesInErrors ? ", …" : "");
}
