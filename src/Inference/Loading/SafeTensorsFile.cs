using System.IO.MemoryMappedFiles;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Loading;

/// <summary>
/// A memory-mapped safetensors file: an 8-byte little-endian header length, a JSON header
/// mapping names to dtype, shape and byte offsets, then the raw little-endian data.
/// Tensors are materialised one at a time, so loading never holds a second copy of the model.
/// </summary>
public sealed class SafeTensorsFile : IDisposable
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly long _dataStart;
    private readonly Dictionary<string, SafeTensorEntry> _entries;

    /// <summary>The path the file was opened from.</summary>
    public string Path { get; }

    /// <summary>The free-form <c>__metadata__</c> object of the header, if any.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    private SafeTensorsFile(string path)
    {
        Path = path;
        // The stream's length is the target's when the path is a symbolic link (as in a Hugging Face cache snapshot);
        // FileInfo.Length would be the link's own.
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        var length = stream.Length;
        if (length < 8)
        {
            stream.Dispose();
            throw new InvalidDataException($"'{path}' is not a safetensors file: it is {length} bytes long.");
        }
        _file = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
        _view = _file.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
        var headerLength = _view.ReadInt64(0);
        if (headerLength <= 0 || headerLength > length - 8 || headerLength > 100_000_000)
            throw new InvalidDataException($"'{path}' is not a safetensors file: header length {headerLength} is out of range.");
        var header = new byte[headerLength];
        _view.ReadArray(8, header, 0, header.Length);
        _dataStart = 8 + headerLength;
        (_entries, Metadata) = ParseHeader(header, length - _dataStart, path);
    }

    /// <summary>Opens a safetensors file and parses its header; no tensor data is read yet.</summary>
    public static SafeTensorsFile Open(string path) => new(path);

    /// <summary>The names of all tensors in the file.</summary>
    public IEnumerable<string> Keys => _entries.Keys;

    /// <summary>The header entry of one tensor.</summary>
    public SafeTensorEntry this[string name] => _entries[name];

    public bool Contains(string name) => _entries.ContainsKey(name);

    /// <summary>Reads one tensor onto the CPU in its stored dtype.</summary>
    public unsafe Tensor Load(string name)
    {
        if (!_entries.TryGetValue(name, out var entry))
            throw new KeyNotFoundException($"'{Path}' has no tensor named '{name}'.");
        var tensor = torch.empty(entry.Shape, entry.DType, device: CPU);
        if (entry.ByteLength == 0)
            return tensor;
        byte* basePointer = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePointer);
        try
        {
            var source = new Span<byte>(basePointer + _view.PointerOffset + _dataStart + entry.Begin, checked((int)entry.ByteLength));
            tensor.bytes = source;
        }
        finally
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
        return tensor;
    }

    public void Dispose()
    {
        _view.Dispose();
        _file.Dispose();
    }

    private static (Dictionary<string, SafeTensorEntry>, IReadOnlyDictionary<string, string>) ParseHeader(byte[] header, long dataLength, string path)
    {
        using var json = JsonDocument.Parse(header);
        var entries = new Dictionary<string, SafeTensorEntry>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in json.RootElement.EnumerateObject())
        {
            if (property.Name == "__metadata__")
            {
                foreach (var m in property.Value.EnumerateObject())
                    metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
                continue;
            }
            var dtypeName = property.Value.GetProperty("dtype").GetString()!;
            var dtype = ParseDType(dtypeName, property.Name, path);
            var shape = property.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var offsets = property.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || offsets[1] > dataLength)
                throw new InvalidDataException($"'{path}': tensor '{property.Name}' has data offsets outside the file.");
            var expected = shape.Aggregate(1L, (a, b) => a * b) * ElementSize(dtype);
            if (expected != offsets[1] - offsets[0])
                throw new InvalidDataException($"'{path}': tensor '{property.Name}' ({dtypeName} [{string.Join(", ", shape)}]) needs {expected} bytes but spans {offsets[1] - offsets[0]}.");
            entries[property.Name] = new SafeTensorEntry(property.Name, dtype, shape, offsets[0], offsets[1] - offsets[0]);
        }
        return (entries, metadata);
    }

    private static ScalarType ParseDType(string name, string tensor, string path) => name switch
    {
        "F32" => ScalarType.Float32,
        "F16" => ScalarType.Float16,
        "BF16" => ScalarType.BFloat16,
        "F64" => ScalarType.Float64,
        "I64" => ScalarType.Int64,
        "I32" => ScalarType.Int32,
        "I16" => ScalarType.Int16,
        "I8" => ScalarType.Int8,
        "U8" => ScalarType.Byte,
        "BOOL" => ScalarType.Bool,
        _ => throw new InvalidDataException($"'{path}': tensor '{tensor}' has unsupported dtype '{name}'."),
    };

    private static long ElementSize(ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        _ => 1,
    };
}

/// <summary>One tensor's header entry: dtype, shape and byte range relative to the data section.</summary>
public sealed record SafeTensorEntry(string Name, ScalarType DType, long[] Shape, long Begin, long ByteLength);
