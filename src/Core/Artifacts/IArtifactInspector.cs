namespace Easel.Core.Artifacts;

/// <summary>
/// Reads an artifact file before it is stored: what layout it has, what it holds, and whether it fits its base model.
/// The API calls it on every upload and a fine-tune runner on every artifact it writes; the implementation needs the
/// inference core's weight loading, so it lives in Easel.Workers.
/// </summary>
public interface IArtifactInspector
{
    /// <summary>
    /// Inspects <paramref name="file"/> as an artifact of <paramref name="kind"/>; <paramref name="baseModel"/> is a
    /// configured model name, or null when the caller named none (then only the layout is checked).
    /// </summary>
    Task<ArtifactInspection> InspectAsync(ArtifactKind kind, ReadOnlyMemory<byte> file, string? baseModel, CancellationToken cancellationToken);
}

/// <summary>The outcome of <see cref="IArtifactInspector.InspectAsync"/>: a detected file, or why it was refused.</summary>
/// <param name="Format">The detected layout; null when refused.</param>
/// <param name="Metadata">What the file holds (rank, alpha, target modules, tokens, vector count, dimensions), snake_case keys.</param>
/// <param name="Refusal">Null for an accepted file.</param>
public sealed record ArtifactInspection(
    ArtifactFormat? Format,
    IReadOnlyDictionary<string, object?> Metadata,
    ArtifactRefusal? Refusal)
{
    public static ArtifactInspection Accepted(ArtifactFormat format, IReadOnlyDictionary<string, object?> metadata) => new(format, metadata, null);

    public static ArtifactInspection Refused(ArtifactRefusalReason reason, string message, IReadOnlyList<string>? mismatchedKeys = null) =>
        new(null, new Dictionary<string, object?>(), new ArtifactRefusal(reason, message, mismatchedKeys ?? []));
}

/// <param name="MismatchedKeys">The first keys of the file that do not fit the base model (at most a few), for the problem's detail.</param>
public sealed record ArtifactRefusal(ArtifactRefusalReason Reason, string Message, IReadOnlyList<string> MismatchedKeys);

public enum ArtifactRefusalReason
{
    /// <summary>A pickle (torch.save) file: unpickling can execute code (415).</summary>
    Pickle,

    /// <summary>Not a readable safetensors file (400).</summary>
    NotSafeTensors,

    /// <summary>A safetensors file whose keys are no layout of the kind (422).</summary>
    UnknownLayout,

    /// <summary>Keys or shapes that do not fit the base model (422).</summary>
    BaseModelMismatch,
}
