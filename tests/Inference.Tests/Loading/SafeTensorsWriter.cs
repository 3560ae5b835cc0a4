using System.Text;
using System.Text.Json;
using Easel.Inference.Loading;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Loading;

/// <summary>Writes small safetensors files for tests (F32/I64 only), e.g. a fixture checkpoint with keys added, removed or renamed.</summary>
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

    public static void Write(string path, IEnumerable<Entry> entries)
    {
        var list = entries.ToList();
        var header = new Dictionary<string, object>();
        long offset = 0;
        foreach (var e in list)
        {
            var dtype = e.DType switch
            {
                ScalarType.Float32 => "F32",
                ScalarType.Int64 => "I64",
                _ => throw new NotSupportedException($"Test writer does not write {e.DType}."),
            };
            header[e.Name] = new { dtype, shape = e.Shape, data_offsets = new[] { offset, offset + e.Data.Length } };
            offset += e.Data.Length;
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        var padded = (json.Length + 7) / 8 * 8;
        using var stream = File.Create(path);
        stream.Write(BitConverter.GetBytes((long)padded));
        stream.Write(json);
        for (var i = json.Length; i < padded; i++)
            stream.WriteByte((byte)' ');
        foreach (var e in list)
            stream.Write(e.Data);
    }
}
