using Easel.Core.Data;
using Microsoft.EntityFrameworkCore;

namespace Easel.Core.Artifacts;

/// <summary>
/// Finds the artifact a request refers to as <c>"&lt;id or name&gt;"</c> (the <c>loras[].artifact</c> and
/// <c>embeddings[]</c> fields, and the A1111 prompt forms): an id of one of the owner's live artifacts, else the name of
/// one. Another owner's artifacts and deleted ones are never found.
/// </summary>
public sealed class ArtifactResolver(EaselDbContext db)
{
    /// <summary>The owner's live artifact with that id or name (of <paramref name="kind"/> when given), or null.</summary>
    public async Task<Artifact?> ResolveAsync(string reference, string? owner, ArtifactKind? kind, CancellationToken cancellationToken)
    {
        var live = db.Artifacts.AsNoTracking().Where(a => a.Owner == owner && a.DeletedAt == null);
        if (kind is { } wanted)
            live = live.Where(a => a.Kind == wanted);
        if (Guid.TryParse(reference, out var id) && await live.SingleOrDefaultAsync(a => a.Id == id, cancellationToken) is { } byId)
            return byId;
        return await live.SingleOrDefaultAsync(a => a.Name == reference, cancellationToken);
    }

    /// <summary>The bytes the owner's live artifacts take in the blob store (the per-key storage quota counts them).</summary>
    public Task<long> StoredBytesAsync(string? owner, CancellationToken cancellationToken) =>
        db.Artifacts.Where(a => a.Owner == owner && a.DeletedAt == null).SumAsync(a => a.ByteSize, cancellationToken);
}
