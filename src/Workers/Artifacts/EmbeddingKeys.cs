using Easel.Core.Artifacts;
using Easel.Inference.Loading;

namespace Easel.Workers.Artifacts;

/// <summary>
/// Reads a textual-inversion file: diffusers (<c>learned_embeds.safetensors</c>: one tensor named by its token, [width] or
/// [vectors, width]) or A1111 (<c>emb_params</c> [vectors, width]; SDXL files <c>clip_l</c> and <c>clip_g</c>, one per text
/// encoder). Against a base model the width must be its text encoder's hidden size.
/// </summary>
internal static class EmbeddingKeys
{
    public static ArtifactInspection Inspect(SafeTensorsHeader header, BaseWeights? weights)
    {
        var entries = header.Entries.Values.OrderBy(e => e.Name, StringComparer.Ordinal).ToList();
        var bad = entries.Where(e => e.Shape.Length is not (1 or 2)).Select(e => e.Name).ToList();
        if (entries.Count == 0 || bad.Count > 0)
            return ArtifactInspection.Refused(ArtifactRefusalReason.UnknownLayout,
                "An embedding file holds one tensor of [width] or [vectors, width] per text encoder (diffusers: named by its token; A1111: emb_params, or clip_l/clip_g).",
                [.. bad.Take(SafeTensorsArtifactInspector.MaxReportedKeys)]);

        ArtifactFormat format;
        List<(SafeTensorsHeaderEntry Entry, string Component)> vectors;
        string? token = null;
        if (entries.Count == 1 && entries[0].Name == "emb_params")
            (format, vectors) = (ArtifactFormat.A1111, [(entries[0], "text_encoder")]);
        else if (entries.All(e => e.Name is "clip_l" or "clip_g") && entries.Count == 2)
            (format, vectors) = (ArtifactFormat.A1111, [.. entries.Select(e => (e, e.Name == "clip_l" ? "text_encoder" : "text_encoder_2"))]);
        else if (entries.Count == 1)
            (format, vectors, token) = (ArtifactFormat.Diffusers, [(entries[0], "text_encoder")], entries[0].Name);
        else
            return ArtifactInspection.Refused(ArtifactRefusalReason.UnknownLayout,
                "The file holds several tensors; an embedding is one tensor (or clip_l and clip_g for SDXL).",
                [.. entries.Select(e => e.Name).Take(SafeTensorsArtifactInspector.MaxReportedKeys)]);

        var checkedAgainstBase = weights is not null;
        if (weights is not null)
        {
            var mismatched = vectors.Where(v => weights.EmbeddingWidth(v.Component) != v.Entry.Shape[^1]).Select(v => v.Entry.Name).ToList();
            if (mismatched.Count > 0)
                return ArtifactInspection.Refused(ArtifactRefusalReason.BaseModelMismatch,
                    $"The embedding's width does not match the base model's text encoder ({string.Join(", ", vectors.Select(v => $"{v.Component}: {weights.EmbeddingWidth(v.Component)?.ToString() ?? "absent"}"))}).",
                    mismatched);
        }

        var first = vectors[0].Entry;
        var metadata = new Dictionary<string, object?>
        {
            [ArtifactMetadataKeys.VectorCount] = first.Shape.Length == 1 ? 1 : first.Shape[0],
            [ArtifactMetadataKeys.Width] = first.Shape[^1],
            [ArtifactMetadataKeys.Components] = vectors.Select(v => v.Component).ToList(),
            [ArtifactMetadataKeys.Tokens] = token is null ? null : new[] { token },
            [ArtifactMetadataKeys.BaseModelChecked] = checkedAgainstBase,
            [ArtifactMetadataKeys.FileMetadata] = header.Metadata,
        };
        return ArtifactInspection.Accepted(format, metadata);
    }
}
