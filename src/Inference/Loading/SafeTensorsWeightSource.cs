namespace Easel.Inference.Loading;

/// <summary>
/// The tensors of safetensors files stored under the module's own names (a diffusers component folder, its shards
/// or variant), optionally renamed or filtered. Owns the files it opens through <see cref="OpenFolder"/>.
/// </summary>
public sealed class SafeTensorsWeightSource : IWeightSource, IDisposable
{
    private readonly IReadOnlyList<SafeTensorsFile> _files;
    private readonly bool _ownsFiles;
    private readonly Func<string, string?>? _rename;
    private readonly Func<string, bool>? _ignore;

    /// <param name="rename">Optional mapping from checkpoint key to module key (null drops the key).</param>
    /// <param name="ignore">Checkpoint keys that are known to be unused (for example position_ids buffers).</param>
    public SafeTensorsWeightSource(IReadOnlyList<SafeTensorsFile> files, string component,
        Func<string, string?>? rename = null, Func<string, bool>? ignore = null, bool ownsFiles = false)
    {
        _files = files;
        Component = component;
        _rename = rename;
        _ignore = ignore;
        _ownsFiles = ownsFiles;
    }

    /// <summary>Opens the safetensors weights of a diffusers component folder (single file, shards or <paramref name="variant"/>).</summary>
    public static SafeTensorsWeightSource OpenFolder(string componentFolder, string component, string? variant = null, Func<string, bool>? ignore = null) =>
        new(ComponentWeights.Open(componentFolder, variant), component, ignore: ignore, ownsFiles: true);

    public string Component { get; }

    public IEnumerable<StoredTensor> Tensors()
    {
        foreach (var file in _files)
        {
            foreach (var key in file.Keys)
            {
                if (_ignore?.Invoke(key) == true)
                    continue;
                var target = _rename is null ? key : _rename(key);
                if (target is null)
                    continue;
                var shape = file[key].Shape;
                var source = file;
                var name = key;
                yield return new StoredTensor(key, shape, () => source.Load(name), [new WeightTarget(target, shape)]);
            }
        }
    }

    public void Dispose()
    {
        if (!_ownsFiles)
            return;
        foreach (var file in _files)
            file.Dispose();
    }
}
