using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Loading;

/// <summary>Writes tensors in the safetensors format (the inverse of <see cref="SafeTensorsFile"/>).</summary>
public static class SafeTensorsWriter
{
    /// <summary>
    /// Writes <paramref name="tensors"/> to <paramref name="path"/>, sorted by name, optionally converting
    /// floating-point tensors to <paramref name="storeAs"/>. The file is written to a temporary name and
    /// renamed, so a crash never leaves a truncated checkpoint behind.
    /// </summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, ScalarType? storeAs = null,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            Write(stream, tensors, storeAs, metadata);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Writes <paramref name="tensors"/> to <paramref name="stream"/> (left open), sorted by name, as <see cref="Write(string, IEnumerable{KeyValuePair{string, Tensor}}, ScalarType?, IReadOnlyDictionary{string, string}?)"/> does.</summary>
    public static void Write(Stream stream, IEnumerable<KeyValuePair<string, Tensor>> tensors, ScalarType? storeAs = null,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var ordered = tensors.OrderBy(t => t.Key, StringComparer.Ordinal).ToList();
        var header = new Dictionary<string, object>(StringComparer.Ordinal);
        if (metadata is { Count: > 0 })
            header["__metadata__"] = metadata;
        var stored = new List<(string Name, ScalarType DType, long[] Shape)>(ordered.Count);
        long offset = 0;
        foreach (var (name, tensor) in ordered)
        {
            var dtype = storeAs is { } target && tensor.is_floating_point() ? target : tensor.dtype;
            var length = tensor.numel() * tensor.ElementSize * ElementSize(dtype) / tensor.ElementSize;
            header[name] = new Dictionary<string, object>
            {
                ["dtype"] = DTypeName(dtype),
                ["shape"] = tensor.shape,
                ["data_offsets"] = new[] { offset, offset + length },
            };
            stored.Add((name, dtype, tensor.shape));
            offset += length;
        }
        var json = JsonSerializer.SerializeToUtf8Bytes(header);
        var padded = (json.Length + 7) / 8 * 8;
        var headerBytes = new byte[padded];
        Array.Fill(headerBytes, (byte)' ');
        json.CopyTo(headerBytes, 0);

        stream.Write(BitConverter.GetBytes((long)padded));
        stream.Write(headerBytes);
        for (var i = 0; i < ordered.Count; i++)
        {
            using var scope = torch.NewDisposeScope();
            var data = ordered[i].Value.detach().to(stored[i].DType).cpu().contiguous();
            stream.Write(data.bytes);
        }
    }

    private static long ElementSize(ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        _ => 1,
    };

    private static string DTypeName(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "F32",
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Float64 => "F64",
        ScalarType.Int64 => "I64",
        ScalarType.Int32 => "I32",
        ScalarType.Int16 => "I16",
        ScalarType.Int8 => "I8",
        ScalarType.Byte => "U8",
        ScalarType.Bool => "BOOL",
        _ => throw new NotSupportedException($"dtype {dtype} cannot be stored in safetensors."),
    };
}
