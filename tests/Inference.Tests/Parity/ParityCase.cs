using System.Text.Json;
using Easel.Inference.Loading;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Parity;

/// <summary>One golden case: its JSON description and its tensors (in.*, mid.*, out.*, rng.*).</summary>
public sealed class ParityCase : IDisposable
{
    private readonly SafeTensorsFile? _tensors;
    private readonly JsonDocument _json;

    public ParityCase(string root, ParityCaseInfo info)
    {
        Info = info;
        Root = root;
        _json = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "cases", info.Name + ".json")));
        var tensorFile = Path.Combine(root, "cases", info.Name + ".safetensors");
        _tensors = File.Exists(tensorFile) ? SafeTensorsFile.Open(tensorFile) : null;
    }

    public ParityCaseInfo Info { get; }
    public string Root { get; }
    public string Name => Info.Name;
    public JsonElement Json => _json.RootElement;
    public JsonElement Params => Json.GetProperty("params");

    /// <summary>The model folders named by model_dir ("a + b" names several), as absolute paths.</summary>
    public IReadOnlyList<string> ModelDirs =>
        Json.TryGetProperty("model_dir", out var dir) && dir.ValueKind == JsonValueKind.String
            ? dir.GetString()!.Split('+', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(d => Path.Combine(Root, d)).ToList()
            : [];

    public string ModelDir => ModelDirs.Single();

    public bool Has(string name) => _tensors?.Contains(name) == true;

    public Tensor Tensor(string name) =>
        (_tensors ?? throw new InvalidOperationException($"Case {Name} has no tensor file.")).Load(name);

    public IEnumerable<string> TensorNames => _tensors?.Keys ?? [];

    /// <summary>The rng.NNN tensors in draw order.</summary>
    public IReadOnlyList<Tensor> RngTape() =>
        TensorNames.Where(n => n.StartsWith("rng.", StringComparison.Ordinal)).Order(StringComparer.Ordinal).Select(Tensor).ToList();

    public string PathOf(string relative) => Path.Combine(Root, relative);

    public void Dispose()
    {
        _tensors?.Dispose();
        _json.Dispose();
    }
}
