using System.IO.MemoryMappedFiles;
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
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        SafeTensorsHeader header;
        try
        {
            header = SafeTensorsHeader.Read(stream, path);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
        _file = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
        _view = _file.CreateViewAccessor(0, stream.Length, MemoryMappedFileAccess.Read);
        _dataStart = header.DataStart;
        _entries = header.Entries.Values.ToDictionary(
            e => e.Name, e => new SafeTensorEntry(e.Name, ToScalarType(e.DType), e.Shape, e.Begin, e.ByteLength), StringComparer.Ordinal);
        Metadata = header.Metadata;
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

    // SafeTensorsHeader has refused every other dtype.
    private static ScalarType ToScalarType(string dtype) => dtype switch
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
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Not a safetensors dtype."),
    };
}

/// <summary>One tensor's header entry: dtype, shape and byte range relative to the data section.</summary>
public sealed record SafeTensorEntry(string Name, ScalarType DType, long[] Shape, long Begin, long ByteLength);
