using System.Security.Cryptography;
using System.Text;
using Easel.Core.Data;
using Microsoft.EntityFrameworkCore;

namespace Easel.Core.Jobs;

/// <summary>
/// Idempotency keys (draft-ietf-httpapi-idempotency-key-header): a key is remembered per owner for
/// <see cref="Retention"/>; older records are ignored and removed by <see cref="DeleteExpiredAsync"/>, which the
/// retention job calls.
/// </summary>
public static class IdempotencyStore
{
    public static readonly TimeSpan Retention = TimeSpan.FromHours(24);

    public const int MaxKeyLength = 255;

    /// <summary>Lower-case hex SHA-256 over the method, the path (with query) and the body bytes, read from the stream's position to its end.</summary>
    public static async Task<string> FingerprintAsync(string method, string pathAndQuery, Stream body, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{method.ToUpperInvariant()}\n{pathAndQuery}\n"));
        var buffer = new byte[81920];
        int read;
        while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
            hash.AppendData(buffer, 0, read);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The live record of the key, or null; an expired one is deleted so that the key can be used again.</summary>
    public static async Task<IdempotencyRecord?> FindAsync(EaselDbContext db, string owner, string key, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var record = await db.IdempotencyRecords.AsNoTracking().SingleOrDefaultAsync(r => r.Owner == owner && r.Key == key, cancellationToken);
        if (record is null || record.CreatedAt > now - Retention)
            return record;
        await db.IdempotencyRecords.Where(r => r.Owner == owner && r.Key == key && r.CreatedAt == record.CreatedAt)
            .ExecuteDeleteAsync(cancellationToken);
        return null;
    }

    /// <summary>Forgets a record whose job no longer exists (the job was removed after a failed dispatch or by retention).</summary>
    public static Task DeleteAsync(EaselDbContext db, string owner, string key, CancellationToken cancellationToken) =>
        db.IdempotencyRecords.Where(r => r.Owner == owner && r.Key == key).ExecuteDeleteAsync(cancellationToken);

    /// <summary>Deletes the records older than <see cref="Retention"/>; returns how many.</summary>
    public static Task<int> DeleteExpiredAsync(EaselDbContext db, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        var cutoff = now - Retention;
        return db.IdempotencyRecords.Where(r => r.CreatedAt <= cutoff).ExecuteDeleteAsync(cancellationToken);
    }
}
