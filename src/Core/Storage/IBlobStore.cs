namespace Easel.Core.Storage;

/// <summary>Content-addressed storage of result bytes: the key is the lower-case hex SHA-256 of the content.</summary>
public interface IBlobStore
{
    /// <summary>
    /// Stores the bytes and returns where they are. When the same content is already stored, only its write time is
    /// renewed: a writer that is about to refer to the blob keeps it from retention (see <see cref="DeleteIfNotWrittenSince"/>).
    /// </summary>
    Task<StoredBlob> PutAsync(ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default);

    /// <summary>Opens the blob for reading, or returns null when no blob has that key.</summary>
    Stream? OpenRead(string key);

    bool Exists(string key);

    /// <summary>Removes the blob; returns false when it did not exist.</summary>
    bool Delete(string key);

    /// <summary>
    /// Removes the blob unless it was put at or after <paramref name="since"/>; returns whether it was removed. Retention
    /// deletes a blob that no row refers to this way, so that content a worker has just stored, and not yet recorded in a
    /// row, survives.
    /// </summary>
    bool DeleteIfNotWrittenSince(string key, DateTimeOffset since);
}

/// <param name="Key">The blob key (equal to <paramref name="Sha256"/> for content-addressed stores).</param>
public sealed record StoredBlob(string Key, string Sha256, long ByteSize);
