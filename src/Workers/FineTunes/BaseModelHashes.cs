using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Easel.Core.Models;

namespace Easel.Workers.FineTunes;

/// <summary>
/// A content hash of a model's weights, for the lineage of the artifacts trained on it: the SHA-256 of the weight files'
/// own SHA-256s (UNet, text encoders, VAE of a diffusers folder, or the single file), computed once per process and path.
/// </summary>
public sealed class BaseModelHashes
{
    private static readonly string[] Components = ["unet", "text_encoder", "text_encoder_2", "vae"];
    private readonly ConcurrentDictionary<string, string> _hashes = new(StringComparer.Ordinal);

    public string Of(ModelInfo model) => _hashes.GetOrAdd(model.Path, path =>
    {
        List<string> files = File.Exists(path)
            ? [path]
            : [.. Components.Where(c => Directory.Exists(Path.Combine(path, c)))
                .SelectMany(c => Directory.EnumerateFiles(Path.Combine(path, c), "*.safetensors").Order(StringComparer.Ordinal))];
        var combined = new StringBuilder();
        foreach (var file in files)
        {
            using var stream = File.OpenRead(file);
            combined.Append(Path.GetRelativePath(File.Exists(path) ? Path.GetDirectoryName(path)! : path, file))
                .Append(':').Append(Convert.ToHexStringLower(SHA256.HashData(stream))).Append('\n');
        }
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(combined.ToString())));
    });
}
