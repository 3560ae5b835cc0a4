namespace Easel.Core.Artifacts;

/// <summary>What an artifact is; snake_case in the API and the database (<c>lora</c>, <c>t2i_adapter</c>, …).</summary>
public enum ArtifactKind
{
    Lora,
    Embedding,
    Controlnet,
    T2iAdapter,
    Gligen,
    Slider,
    Checkpoint,
    EditSession,
}
