using System.Security.Cryptography;
using Easel.Core.Options;
using Microsoft.Extensions.Options;

namespace Easel.Core.Storage;

/// <summary>
/// Blobs as files under <c>{DataDir}/blobs/ab/cd/abcd…</c>, named by their SHA-256. Writes go to a temporary
/// file in the same folder and are renamed into place, so a reader never sees a partial blob. A file's last write time
/// is the last time its content was put (taken from the <see cref="TimeProvider"/>), which retention reads.
/// </summary>
public sealed class FileSystemBlobStore : IBlobStore
{
    private readonly string _root;
    private readonly TimeProvider _time;

    public FileSystemBlobStore(IOptions<EaselOptions> options, TimeProvider time)
        : this(Path.Combine(options.Value.DataDirFullPath, "blobs"), time)
    {
    }

    public FileSystemBlobStore(string root, TimeProvider? time = null)
    {
        _root = Path.GetFullPath(root);
        _time = time ?? TimeProvider.System;
    }

    public string Root => _root;

    public async Task<StoredBlob> PutAsync(ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default)
    {
        var sha = Convert.ToHexStringLower(SHA256.HashData(content.Span));
        var path = PathOf(sha);
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
            try
            {
                await File.WriteAllBytesAsync(temporary, content, cancellationToken);
                File.Move(temporary, path, overwrite: true);
            }
            finally
            {
                if (File.Exists(temporary))
                    File.Delete(temporary);
            }
        }
        File.SetLastWriteTimeUtc(path, _time.GetUtcNow().UtcDateTime);
        return new StoredBlob(sha, sha, content.Length);
    }

    public Stream? OpenRead(string key)
    {
        if (!IsValidKey(key))
            return null;
        try
        {
            return new FileStream(PathOf(key), FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 64 * 1024, useAsync: true);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    public bool Exists(string key) => IsValidKey(key) && File.Exists(PathOf(key));

    public bool Delete(string key)
    {
        if (!Exists(key))
            return false;
        File.Delete(PathOf(key));
        return true;
    }

    public bool DeleteIfNotWrittenSince(string key, DateTimeOffset since)
    {
        if (!Exists(key))
            return false;
        var path = PathOf(key);
        if (File.GetLastWriteTimeUtc(path) >= since.UtcDateTime)
            return false;
        File.Delete(path);
        return true;
    }

    /// <summary>A key is 64 lower-case hex digits; anything else (a path, "..") never reaches the file system.</summary>
    public static bool IsValidKey(string key) =>
        key.Length == 64 && key.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f');

    private string PathOf(string key) => Path.Combine(_root, key[..2], key[2..4], key);
}
