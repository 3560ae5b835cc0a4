using Easel.Core.Artifacts;
using Easel.Core.Models;
using Easel.Inference.Loading;

namespace Easel.Workers.Artifacts;

/// <summary>
/// Inspects LoRA and embedding uploads from their safetensors header alone (no tensor data, no libtorch): the layout from
/// the key names, rank and vector counts from the shapes, and — when a base model is named — whether every key maps onto
/// a weight of that model's diffusers components with fitting shapes (read from the components' headers too).
/// <para>
/// Not checked yet (see <see cref="ArtifactMetadataKeys.BaseModelChecked"/>, false then): LoRAs on SDXL in kohya's SGM
/// paths (<c>lora_unet_input_blocks_…</c>), which need the LDM→diffusers name mapping of
/// <c>Inference/Customization/Lora</c>, and base models configured as single files. When that loader lands, its key
/// mapping replaces <see cref="LoraKeys"/> here.
/// </para>
/// </summary>
public sealed class SafeTensorsArtifactInspector(IModelCatalog catalog) : IArtifactInspector
{
    /// <summary>The problem names at most this many keys that do not fit.</summary>
    public const int MaxReportedKeys = 5;

    public async Task<ArtifactInspection> InspectAsync(ArtifactKind kind, ReadOnlyMemory<byte> file, string? baseModel, CancellationToken cancellationToken)
    {
        if (LooksLikePickle(file.Span))
            return ArtifactInspection.Refused(ArtifactRefusalReason.Pickle,
                "The file holds pickle data (a torch.save .pt/.ckpt/.bin file): unpickling can execute arbitrary code, so it is refused. "
                + "Convert it to .safetensors with a trusted tool first.");
        SafeTensorsHeader header;
        try
        {
            using var stream = new MemoryStream(file.ToArray(), writable: false);
            header = SafeTensorsHeader.Read(stream, "file");
        }
        catch (Exception e) when (e is InvalidDataException or System.Text.Json.JsonException or EndOfStreamException or KeyNotFoundException or InvalidOperationException)
        {
            return ArtifactInspection.Refused(ArtifactRefusalReason.NotSafeTensors, $"The file is not a readable safetensors file: {e.Message}");
        }

        BaseWeights? weights = null;
        if (baseModel is not null)
        {
            await catalog.RefreshAsync(cancellationToken);
            if (catalog.TryGet(baseModel, out var model) && model.Format == ModelFormat.Diffusers)
                weights = new BaseWeights(model.Path);
        }
        return kind switch
        {
            ArtifactKind.Lora => LoraKeys.Inspect(header, weights),
            ArtifactKind.Embedding => EmbeddingKeys.Inspect(header, weights),
            _ => ArtifactInspection.Refused(ArtifactRefusalReason.UnknownLayout, $"Files of kind '{kind}' cannot be inspected yet."),
        };
    }

    // torch.save writes either a raw pickle (protocol 2–5: 0x80 0x02..0x05) or a zip archive holding one.
    private static bool LooksLikePickle(ReadOnlySpan<byte> head) =>
        head.Length >= 2 && head[0] == 0x80 && head[1] is >= 2 and <= 5
        || head.Length >= 4 && head[0] == (byte)'P' && head[1] == (byte)'K' && head[2] == 3 && head[3] == 4;
}
