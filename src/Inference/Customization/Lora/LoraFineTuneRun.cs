using Easel.Inference.Models;
using Easel.Inference.Pipelines;
using Easel.Inference.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Customization.Lora;

/// <summary>
/// One LoRA fine-tune (see <see cref="LoraFineTune"/>): trainable updates added, unmerged, to the targeted layers of the
/// pipeline for the run's lifetime, so generations in between see the model as trained so far; disposing the run removes
/// them (the base weights were never written, so the pipeline gives its old pixels again).
/// </summary>
internal sealed class LoraFineTuneRun : IFineTuneRun
{
    /// <summary>What diffusers' save_lora_weights names its file.</summary>
    public const string FileName = "pytorch_lora_weights.safetensors";

    private static readonly string[] DefaultTargets = ["to_q", "to_k", "to_v", "to_out.0"];
    private const string TextEncoderPrefix = LoraAdapter.TextEncoder + ".";

    private readonly StableDiffusionPipeline _pipeline;
    private readonly int _rank;
    private readonly double _alpha;
    private readonly IReadOnlyList<string> _targetModules;
    private readonly IReadOnlyList<TrainedLayer> _layers;
    private readonly TrainableTensors _tensors;
    private readonly DiffusionFineTuneLoop _loop;

    public LoraFineTuneRun(StableDiffusionPipeline pipeline, FineTuneSettings settings)
    {
        var parameters = new FineTuneParameters(LoraFineTune.MethodName, settings.Parameters, "rank", "alpha", "target_modules");
        _rank = parameters.Int("rank", 4, minimum: 1);
        _alpha = parameters.Positive("alpha", _rank);
        _targetModules = parameters.Strings("target_modules", DefaultTargets);
        var clip = DiffusionFineTuneLoop.ClipOf(pipeline);
        var targets = FindTargets(parameters, pipeline);
        if (targets.Where(t => t.Layer.Adapters.Count > 0).Select(t => $"{t.Component}.{t.Module}").FirstOrDefault() is { } busy)
            throw new InvalidOperationException($"'{pipeline.Folder}' already has LoRA adapters on {busy}; dispose their activation first.");

        _pipeline = pipeline;
        _tensors = new TrainableTensors(LoraFineTune.MethodName);
        try
        {
            _layers = CreateUpdates(targets, settings.Seed);
            _loop = new DiffusionFineTuneLoop(pipeline, settings, LoraFineTune.MethodName, _tensors, clip.Tokenizer);
        }
        catch
        {
            _tensors.Dispose();
            throw;
        }
        foreach (var layer in _layers)
            layer.Layer.AddAdapter(layer.Weights, 1.0);
    }

    public int TotalSteps => _loop.TotalSteps;

    public int Step => _loop.Step;

    public void RunUntil(int stopAt, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default) =>
        _loop.RunUntil(stopAt, progress, cancellationToken);

    /// <summary>Generates with the updates as trained so far, beside their layers (a request's own LoRAs may not target the same layers).</summary>
    public IReadOnlyList<GeneratedImage> Generate(TextToImageRequest request, CancellationToken cancellationToken = default) =>
        _pipeline.Generate(request, cancellationToken: cancellationToken);

    /// <summary>Writes <see cref="FileName"/> in the diffusers layout (up pre-multiplied by α/r, as diffusers writes it).</summary>
    public FineTuneArtifact Export(string folder)
    {
        Directory.CreateDirectory(folder);
        using var scope = torch.NewDisposeScope(); // the copies below, also when writing fails
        var path = Path.Combine(folder, FileName);
        var entries = _layers.Select(l => new LoraAdapterEntry(l.Component, l.Module,
            new LoraLayerWeights(l.Weights.Down.detach().cpu().clone(), l.Weights.Up.detach().cpu().clone(), _alpha), $"{l.Component}.{l.Module}")).ToList();
        using (var adapter = new LoraAdapter(LoraFineTune.MethodName, LoraFormat.Diffusers, entries))
        using (var stream = File.Create(path))
            LoraFile.Write(adapter, LoraFormat.Diffusers, stream);
        return new FineTuneArtifact("lora", "diffusers", [path], new Dictionary<string, object?>
        {
            ["rank"] = _rank,
            ["alpha"] = _alpha,
            ["target_modules"] = _targetModules.ToList(),
        });
    }

    /// <summary>
    /// The LoRA layers the target names select, in model order (UNet, then text encoder): a UNet layer whose module path is a
    /// name or ends with "." + name, and likewise for the text encoder with the names prefixed <c>text_encoder.</c>.
    /// </summary>
    private List<(string Component, string Module, LoraLayer Layer)> FindTargets(FineTuneParameters parameters, StableDiffusionPipeline pipeline)
    {
        var components = new (string Component, nn.Module Model)[]
        {
            (LoraAdapter.UNet, pipeline.UNet),
            (LoraAdapter.TextEncoder, DiffusionFineTuneLoop.ClipOf(pipeline).TextEncoder),
        };
        var names = _targetModules.Select(t => t.StartsWith(TextEncoderPrefix, StringComparison.Ordinal)
            ? (Component: LoraAdapter.TextEncoder, Suffix: t[TextEncoderPrefix.Length..], Given: t)
            : (Component: LoraAdapter.UNet, Suffix: t, Given: t)).ToList();
        var found = new List<(string, string, LoraLayer)>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (component, model) in components)
        {
            foreach (var (path, module) in model.named_modules())
            {
                if (module is not LoraLayer layer)
                    continue;
                var matches = names.Where(n => n.Component == component && (path == n.Suffix || path.EndsWith("." + n.Suffix, StringComparison.Ordinal))).ToList();
                if (matches.Count == 0)
                    continue;
                used.UnionWith(matches.Select(m => m.Given));
                found.Add((component, path, layer));
            }
        }
        var unused = names.Where(n => !used.Contains(n.Given)).Select(n => n.Given).ToList();
        if (unused.Count > 0)
            throw parameters.Invalid("target_modules",
                $"names {string.Join(", ", unused.Select(u => $"'{u}'"))}, which end no LoRA-capable module path of the UNet " +
                "(text encoder modules are named with the prefix 'text_encoder.', e.g. 'text_encoder.q_proj')");
        return found;
    }

    /// <summary>
    /// PEFT's initialisation (init_lora_weights=True): A (down) Kaiming-uniform with a = √5, i.e. U(−1/√fan_in, 1/√fan_in),
    /// drawn from a generator seeded by the run's seed; B (up) zeros, so training starts from the base model exactly.
    /// </summary>
    private List<TrainedLayer> CreateUpdates(List<(string Component, string Module, LoraLayer Layer)> targets, int seed)
    {
        using var generator = new Generator((ulong)(uint)seed, CPU);
        var layers = new List<TrainedLayer>(targets.Count);
        foreach (var (component, module, layer) in targets)
        {
            using var scope = torch.NewDisposeScope();
            var shape = layer.Weight.shape; // [out, in] or [out, in, k, k]
            long[] downShape = [_rank, .. shape.Skip(1)];
            long[] upShape = shape.Length == 2 ? [shape[0], _rank] : [shape[0], _rank, 1, 1];
            var down = SeededInitialization.DefaultUniform(downShape, generator).to(layer.Weight.device);
            var up = torch.zeros(upShape, dtype: float32, device: layer.Weight.device);
            var stem = $"{component}_{module.Replace('.', '_')}";
            var weights = new LoraLayerWeights(_tensors.Add(stem + "_down", down), _tensors.Add(stem + "_up", up), _alpha);
            layers.Add(new TrainedLayer(component, module, layer, weights));
        }
        return layers;
    }

    public void Dispose()
    {
        foreach (var layer in _layers)
            layer.Layer.ClearAdapters();
        _loop.Dispose();
        _tensors.Dispose();
    }

    /// <summary>One targeted layer and the update trained beside it.</summary>
    private sealed record TrainedLayer(string Component, string Module, LoraLayer Layer, LoraLayerWeights Weights);
}
