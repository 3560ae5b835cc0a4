using Easel.Core.Generation;

namespace Easel.Core.Artifacts;

/// <summary>
/// Turns the LoRA and embedding references of a validated generation (ids or names, as the caller wrote them) into the
/// ids of the caller's live artifacts of the right kind, before the job is stored: a job refers to its artifacts by id,
/// so deleting or renaming one later does not change what the job runs. Unknown references are refused (422) naming the
/// request field.
/// </summary>
public static class GenerationArtifacts
{
    public static async Task<(GenerationParameters? Resolved, IDictionary<string, string[]> Errors)> ResolveAsync(
        ArtifactResolver resolver, GenerationParameters parameters, IReadOnlyList<string> loraFields, string? owner,
        CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var loras = new List<LoraUse>();
        for (var i = 0; i < (parameters.Loras?.Count ?? 0); i++)
        {
            var use = parameters.Loras![i];
            var artifact = await resolver.ResolveAsync(use.Artifact, owner, ArtifactKind.Lora, cancellationToken);
            if (artifact is null)
                errors.TryAdd(loraFields[i], [$"No LoRA artifact of yours has the id or name '{use.Artifact}'; GET /v1/artifacts?kind=lora lists them."]);
            else
                loras.Add(use with { Artifact = artifact.Id.ToString() });
        }
        var embeddings = new List<string>();
        for (var i = 0; i < (parameters.Embeddings?.Count ?? 0); i++)
        {
            var reference = parameters.Embeddings![i];
            var artifact = await resolver.ResolveAsync(reference, owner, ArtifactKind.Embedding, cancellationToken);
            if (artifact is null)
                errors.TryAdd($"embeddings[{i}]", [$"No embedding artifact of yours has the id or name '{reference}'; GET /v1/artifacts?kind=embedding lists them."]);
            else
                embeddings.Add(artifact.Id.ToString());
        }
        if (errors.Count > 0)
            return (null, errors);
        return (parameters with { Loras = loras.Count > 0 ? loras : null, Embeddings = embeddings.Count > 0 ? embeddings : null }, errors);
    }
}
