using System.Buffers.Binary;
using System.Text.Json;

namespace Easel.Inference.Loading;

/// <summary>
/// The header of a safetensors file: an 8-byte little-endian length, then JSON mapping each tensor name to its dtype,
/// shape and byte range, plus a free-form <c>__metadata__</c> object. Reading it touches neither the tensor data nor
/// TorchSharp, so a process that only describes checkpoints (the API) never loads libtorch.
/// </summary>
public sealed class SafeTensorsHeader
{
    // Real headers are a few hundred KB; the cap stops a corrupt length from allocating gigabytes.
    private const long MaxHeaderLength = 100_000_000;

    private SafeTensorsHeader(IReadOnlyDictionary<string, SafeTensorsHeaderEntry> entries, IReadOnlyDictionary<string, string> metadata, long dataStart)
    {
        Entries = entries;
        Metadata = metadata;
        DataStart = dataStart;
    }

    /// <summary>Every tensor of the file by name.</summary>
    public IReadOnlyDictionary<string, SafeTensorsHeaderEntry> Entries { get; }

    /// <summary>The <c>__metadata__</c> object, if any.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The file offset of the data section (8 + the header length); entry offsets are relative to it.</summary>
    public long DataStart { get; }

    /// <summary>Reads and checks the header of the safetensors file at <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not a safetensors file, or an entry is inconsistent.</exception>
    public static SafeTensorsHeader Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return Read(stream, path);
    }

    /// <summary>Reads the header from the start of <paramref name="stream"/>; <paramref name="path"/> names the file in errors.</summary>
    public static SafeTensorsHeader Read(Stream stream, string path)
    {
        // The stream's length is the target's when the path is a symbolic link (as in a Hugging Face cache snapshot);
        // FileInfo.Length would be the link's own.
        var length = stream.Length;
        if (length < 8)
            throw new InvalidDataException($"'{path}' is not a safetensors file: it is {length} bytes long.");
        Span<byte> prefix = stackalloc byte[8];
        stream.Position = 0;
        stream.ReadExactly(prefix);
        var headerLength = BinaryPrimitives.ReadInt64LittleEndian(prefix);
        if (headerLength <= 0 || headerLength > length - 8 || headerLength > MaxHeaderLength)
            throw new InvalidDataException($"'{path}' is not a safetensors file: header length {headerLength} is out of range.");
        var header = new byte[headerLength];
        stream.ReadExactly(header);
        var dataStart = 8 + headerLength;
        var (entries, metadata) = Parse(header, length - dataStart, path);
        return new SafeTensorsHeader(entries, metadata, dataStart);
    }

    private static (Dictionary<string, SafeTensorsHeaderEntry>, Dictionary<string, string>) Parse(byte[] header, long dataLength, string path)
    {
        using var json = JsonDocument.Parse(header);
        var entries = new Dictionary<string, SafeTensorsHeaderEntry>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in json.RootElement.EnumerateObject())
        {
            if (property.Name == "__metadata__")
            {
                foreach (var m in property.Value.EnumerateObject())
                    metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
                continue;
            }
            var dtype = property.Value.GetProperty("dtype").GetString()!;
            var shape = property.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var offsets = property.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || offsets[1] > dataLength)
                throw new InvalidDataException($"'{path}': tensor '{property.Name}' has data offsets outside the file.");
            var expected = shape.Aggregate(1L, (a, b) => a * b) * ElementSize(dtype, property.Name, path);
            if (expected != offsets[1] - offsets[0])
                throw new InvalidDataException($"'{path}': tensor '{property.Name}' ({dtype} [{string.Join(", ", shape)}]) needs {expected} bytes but spans {offsets[1] - offsets[0]}.");
            entries[property.Name] = new SafeTensorsHeaderEntry(property.Name, dtype, shape, offsets[0], offsets[1] - offsets[0]);
        }
        return (entries, metadata);
    }

    private static long ElementSize(string dtype, string tensor, string path) => dtype switch
    {
        "F64" or "I64" => 8,
        "F32" or "I32" => 4,
        "F16" or "BF16" or "I16" => 2,
        "I8" or "U8" or "BOOL" => 1,
        _ => throw new InvalidDataException($"'{path}': tensor '{tensor}' has unsupported dtype '{dtype}'."),
    };
}

/// <summary>One tensor's header entry: safetensors dtype name ("F32", "BF16", …), shape and byte range relative to the data section.</summary>
public sealed record SafeTensorsHeaderEntry(string Name, string DType, long[] Shape, long Begin, long ByteLength);
