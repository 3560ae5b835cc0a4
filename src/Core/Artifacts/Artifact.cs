namespace Easel.Core.Artifacts;

/// <summary>
/// A file a caller uploaded or a fine-tune job trained (LoRA weights, an embedding, later control models, sliders,
/// checkpoints, edit sessions). The bytes live in the blob store under <see cref="BlobKey"/>; the row holds what the file
/// is, what it was made for and where it came from. Deleting is soft: <see cref="DeletedAt"/> hides the artifact from its
/// owner, and jobs that already refer to it keep working from the blob.
/// </summary>
public sealed class Artifact
{
    public Guid Id { get; set; }

    /// <summary>The id of the API key that owns the artifact; null while authentication is off.</summary>
    public string? Owner { get; set; }

    public ArtifactKind Kind { get; set; }

    /// <summary>Unique among the owner's live artifacts; what requests and prompts (<c>&lt;lora:name:0.8&gt;</c>) refer to.</summary>
    public string Name { get; set; } = "";

    /// <summary>The layout of the file, detected from its keys.</summary>
    public ArtifactFormat Format { get; set; }

    /// <summary>The configured model the artifact was made for, when known.</summary>
    public string? BaseModel { get; set; }

    /// <summary>A content hash of the base model's weights (lineage of trained artifacts), when known.</summary>
    public string? BaseModelHash { get; set; }

    public string BlobKey { get; set; } = "";

    public string Sha256 { get; set; } = "";

    public long ByteSize { get; set; }

    /// <summary>
    /// What the file holds and how it was made, as a JSON object: rank, alpha, target modules, trigger tokens, vector count,
    /// and for trained artifacts the training parameters and the dataset hash.
    /// </summary>
    public string Metadata { get; set; } = "{}";

    /// <summary>The fine-tune job that produced the artifact; null for an upload.</summary>
    public Guid? JobId { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? DeletedAt { get; set; }
}

/// <summary>An artifact as a job lists it: <c>{id, kind, name}</c> (GET /v1/artifacts/{id} has the rest).</summary>
public sealed record ArtifactSummary(Guid Id, ArtifactKind Kind, string Name)
{
    public static ArtifactSummary From(Artifact artifact) => new(artifact.Id, artifact.Kind, artifact.Name);
}
