using System.Security.Cryptography;
using System.Text;
using Easel.Core.Storage;
using Easel.Testing;

namespace Easel.Core.Tests;

public sealed class FileSystemBlobStoreTests : IDisposable
{
    private readonly string _root = TestPaths.NewTempFolder("easel-blobs");

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Key_is_the_sha256_of_the_content_and_the_bytes_read_back()
    {
        var store = new FileSystemBlobStore(_root);
        var content = Encoding.UTF8.GetBytes("hello blobs");

        var blob = await store.PutAsync(content);

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(content)), blob.Key);
        Assert.Equal(blob.Key, blob.Sha256);
        Assert.Equal(content.Length, blob.ByteSize);
        await using var stream = store.OpenRead(blob.Key)!;
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        Assert.Equal(content, copy.ToArray());
    }

    [Fact]
    public async Task Same_content_is_stored_once()
    {
        var store = new FileSystemBlobStore(_root);

        var first = await store.PutAsync(new byte[] { 1, 2, 3 });
        var second = await store.PutAsync(new byte[] { 1, 2, 3 });

        Assert.Equal(first, second);
        Assert.Single(Directory.EnumerateFiles(_root, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Different_content_gets_different_keys()
    {
        var store = new FileSystemBlobStore(_root);

        var a = await store.PutAsync(new byte[] { 1 });
        var b = await store.PutAsync(new byte[] { 2 });

        Assert.NotEqual(a.Key, b.Key);
        Assert.True(store.Exists(a.Key) && store.Exists(b.Key));
    }

    [Fact]
    public async Task Blob_lives_under_two_levels_of_key_prefix_folders()
    {
        var store = new FileSystemBlobStore(_root);

        var blob = await store.PutAsync(new byte[] { 9, 9 });

        Assert.True(File.Exists(Path.Combine(_root, blob.Key[..2], blob.Key[2..4], blob.Key)));
    }

    [Theory]
    [InlineData("../../etc/passwd")]
    [InlineData("ABCDEF")]
    [InlineData("")]
    public void Keys_that_are_not_64_lowercase_hex_digits_never_reach_the_file_system(string key)
    {
        var store = new FileSystemBlobStore(_root);

        Assert.Null(store.OpenRead(key));
        Assert.False(store.Exists(key));
        Assert.False(store.Delete(key));
    }

    [Fact]
    public async Task Deleted_blob_is_gone()
    {
        var store = new FileSystemBlobStore(_root);
        var blob = await store.PutAsync(new byte[] { 4, 5 });

        Assert.True(store.Delete(blob.Key));

        Assert.Null(store.OpenRead(blob.Key));
        Assert.False(store.Delete(blob.Key));
    }

    [Fact]
    public async Task Putting_existing_content_again_renews_its_write_time_so_a_conditional_delete_spares_it()
    {
        var time = new ManualClock(new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero));
        var store = new FileSystemBlobStore(_root, time);
        var blob = await store.PutAsync(new byte[] { 4, 5, 6 });
        time.Now = time.Now.AddHours(2);
        await store.PutAsync(new byte[] { 4, 5, 6 });

        Assert.False(store.DeleteIfNotWrittenSince(blob.Key, time.Now.AddHours(-1)));
        Assert.True(store.Exists(blob.Key));
        Assert.True(store.DeleteIfNotWrittenSince(blob.Key, time.Now.AddSeconds(1)));
        Assert.False(store.Exists(blob.Key));
        Assert.False(store.DeleteIfNotWrittenSince(blob.Key, time.Now.AddSeconds(1)));
    }

    private sealed class ManualClock(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
