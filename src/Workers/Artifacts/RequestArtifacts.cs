using Easel.Core.Artifacts;
using Easel.Core.Data;
using Easel.Core.Generation;
using Easel.Core.Options;
using Easel.Core.Storage;
using Easel.Inference.Customization.Lora;
using Easel.Inference.Customization.TextualInversion;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Easel.Workers.Artifacts;

/// <summary>
/// Loads the LoRAs and embeddings a generation job refers to. The job holds artifact ids (the API resolved the caller's
/// names), and the rows are read whatever their deleted_at: a deleted artifact's job still runs from its blob. Files are
/// copied out of the blob store once per content hash into <c>&lt;DataDir&gt;/artifact-files</c>, because the weight readers
/// map files from disk; the weights themselves are read per request and freed after it (a rank-16 SD1.5 LoRA reads in
/// tens of milliseconds, see bench/).
/// </summary>
public sealed class RequestArtifacts(IBlobStore blobs, IOptions<EaselOptions> easel)
{
    private readonly string _folder = Path.Combine(easel.Value.DataDirFullPath, "artifact-files");

    /// <exception cref="InvalidDataException">An artifact or its file is gone, or the file is not of its kind.</exception>
    public async Task<LoadedArtifacts> LoadAsync(EaselDbContext db, GenerationParameters parameters, CancellationToken cancellationToken)
    {
        var ids = (parameters.Loras ?? []).Select(l => l.Artifact).Concat(parameters.Embeddings ?? [])
            .Select(reference => Guid.TryParse(reference, out var id) ? id
                : throw new InvalidDataException($"The job refers to artifact '{reference}', which is not an artifact id."))
            .ToList();
        if (ids.Count == 0)
            return new LoadedArtifacts([], []);
        var rows = await db.Artifacts.AsNoTracking().Where(a => ids.Contains(a.Id)).ToDictionaryAsync(a => a.Id, cancellationToken);
        Artifact Row(string reference) => rows.GetValueOrDefault(Guid.Parse(reference))
            ?? throw new InvalidDataException($"Artifact {reference} of this job no longer exists.");

        var loaded = new LoadedArtifacts([], []);
        try
        {
            foreach (var use in parameters.Loras ?? [])
            {
                var artifact = Row(use.Artifact);
                loaded.Loras.Add((LoraFile.Load(LocalFile(artifact), artifact.Name), use.Scale));
            }
            foreach (var reference in parameters.Embeddings ?? [])
            {
                var artifact = Row(reference);
                loaded.Embeddings.Add(TextualInversionFile.Load(LocalFile(artifact), artifact.Name));
            }
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
        return loaded;
    }

    /// <summary>The artifact's file on local disk (copied out of the blob store the first time).</summary>
    /// <exception cref="InvalidDataException">The blob is gone.</exception>
    public string LocalFile(Artifact artifact)
    {
        var path = Path.Combine(_folder, artifact.Sha256 + ".safetensors");
        if (File.Exists(path))
            return path;
        Directory.CreateDirectory(_folder);
        using (var source = blobs.OpenRead(artifact.BlobKey)
            ?? throw new InvalidDataException($"The file of artifact '{artifact.Name}' ({artifact.Id}) is no longer stored."))
        {
            // Written aside and moved, so that a crash or a second worker never leaves a half file under the final name.
            var partial = path + "." + Guid.NewGuid().ToString("N") + ".partial";
            using (var target = File.Create(partial))
                source.CopyTo(target);
            File.Move(partial, path, overwrite: true);
        }
        return path;
    }
}

/// <summary>The weights one request uses; disposing frees them (the pipeline's layers no longer refer to them by then).</summary>
public sealed record LoadedArtifacts(List<(LoraAdapter Adapter, double Scale)> Loras, List<TextualInversionEmbedding> Embeddings) : IDisposable
{
    public void Dispose()
    {
        foreach (var (adapter, _) in Loras)
            adapter.Dispose();
        foreach (var embedding in Embeddings)
            embedding.Dispose();
        Loras.Clear();
        Embeddings.Clear();
    }
}
