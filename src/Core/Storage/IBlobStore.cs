namespace Easel.Core.Storage;

/// <summary>Content-addressed storage of result bytes: the key is the lower-case hex SHA-256 of the content.</summary>
public interface IBlobStore
{
    /// <summary>Stores the bytes (a no-op when the same content is already stored) and returns where they are.</summary>
    Task<StoredBlob> PutAsync(ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default);

    /// <summary>Opens the blob for reading, or returns null when no blob has that key.</summary>
    Stream? OpenRead(string key);

    bool Exists(string key);

    /// <summary>Removes the blob; returns false when it did not exist.</summary>
    bool Delete(string key);
}

/// <param name="Key">The blob key (equal to <paramref name="Sha256"/> for content-addressed stores).</param>
public sealed record StoredBlob(string Key, string Sha256, long ByteSize);
