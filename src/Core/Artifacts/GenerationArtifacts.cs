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
    /// <param name="catalog">When given, an artifact made for a configured model of another family than the request's model
    /// is refused (its layers would not map onto this model's).</param>
    public static async Task<(GenerationParameters? Resolved, IDictionary<string, string[]> Errors)> ResolveAsync(
        ArtifactResolver resolver, GenerationParameters parameters, IReadOnlyList<string> loraFields, string? owner,
        CancellationToken cancellationToken, Models.IModelCatalog? catalog = null)
    {
        Models.ModelInfo? model = null;
        catalog?.TryGet(parameters.Model, out model);
        string? FamilyMismatch(Artifact artifact, string what) =>
            model is not null && artifact.BaseModel is { } baseName && catalog!.TryGet(baseName, out var baseModel)
                && baseModel.Family != Models.ModelFamily.Unknown && baseModel.Family != model.Family
                ? $"The {what} '{artifact.Name}' was made for model '{baseName}' ({Models.ModelInfo.FamilyName(baseModel.Family)}); "
                  + $"model '{model.Name}' is {Models.ModelInfo.FamilyName(model.Family)}, so its layers do not fit."
                : null;
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var loras = new List<LoraUse>();
        for (var i = 0; i < (parameters.Loras?.Count ?? 0); i++)
        {
            var use = parameters.Loras![i];
            var artifact = await resolver.ResolveAsync(use.Artifact, owner, ArtifactKind.Lora, cancellationToken);
            if (artifact is null)
                errors.TryAdd(loraFields[i], [$"No LoRA artifact of yours has the id or name '{use.Artifact}'; GET /v1/artifacts?kind=lora lists them."]);
            else if (FamilyMismatch(artifact, "LoRA") is { } mismatch)
                errors.TryAdd(loraFields[i], [mismatch]);
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
            else if (FamilyMismatch(artifact, "embedding") is { } mismatch)
                errors.TryAdd($"embeddings[{i}]", [mismatch]);
            else
                embeddings.Add(artifact.Id.ToString());
        }
        if (errors.Count > 0)
            return (null, errors);
        return (parameters with { Loras = loras.Count > 0 ? loras : null, Embeddings = embeddings.Count > 0 ? embeddings : null }, errors);
    }
}
