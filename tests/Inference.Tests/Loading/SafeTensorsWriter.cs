using Easel.Inference.Loading;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Loading;

/// <summary>Edits checkpoints for tests, e.g. a fixture checkpoint with keys added, removed or renamed.</summary>
internal static class SafeTensorsWriter
{
    public sealed record Entry(string Name, ScalarType DType, long[] Shape, byte[] Data);

    public static Entry From(string name, Tensor tensor)
    {
        using var contiguous = tensor.contiguous();
        return new Entry(name, tensor.dtype, tensor.shape, contiguous.bytes.ToArray());
    }

    /// <summary>Every tensor of <paramref name="file"/> as entries, in key order.</summary>
    public static List<Entry> ReadAll(SafeTensorsFile file)
    {
        var entries = new List<Entry>();
        foreach (var key in file.Keys.Order(StringComparer.Ordinal))
        {
            using var tensor = file.Load(key);
            entries.Add(From(key, tensor));
        }
        return entries;
    }

    /// <summary>Writes the entries through the production writer, so tests edit checkpoints exactly as they are stored.</summary>
    public static void Write(string path, IEnumerable<Entry> entries)
    {
        using var scope = NewDisposeScope();
        var tensors = entries.Select(e =>
        {
            var tensor = empty(e.Shape, e.DType);
            tensor.bytes = e.Data;
            return new KeyValuePair<string, Tensor>(e.Name, tensor);
        }).ToList();
        Easel.Inference.Loading.SafeTensorsWriter.Write(path, tensors);
    }
}
