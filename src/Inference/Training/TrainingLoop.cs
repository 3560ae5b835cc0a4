using System.Diagnostics;
using System.Text.Json;
using Easel.Inference.Loading;
using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Easel.Inference.Training;

/// <summary>A module being trained, under the name its checkpoint files carry.</summary>
/// <param name="LearningRateScale">Its learning rate relative to the loop's.</param>
public sealed record TrainableModule(string Name, nn.Module Module, double LearningRateScale = 1.0);

/// <summary>
/// The optimisation loop every trainer stands on: AdamW over the given modules, warm-up + cosine learning
/// rate, gradient clipping, an optional EMA, progress callbacks, and checkpoints that a later run resumes
/// from bit-exactly (the step's randomness must come from the step number, not from state carried in memory).
/// </summary>
public sealed class TrainingLoop : IDisposable
{
    private readonly string _phase;
    private readonly IReadOnlyList<TrainableModule> _modules;
    private readonly IReadOnlyList<Parameter> _parameters;
    private readonly OptimizerSettings _settings;
    private readonly TorchSharp.Modules.AdamW _optimizer;
    private readonly IReadOnlyList<double> _groupScales;
    private readonly Dictionary<string, ExponentialMovingAverage> _ema = new(StringComparer.Ordinal);
    private readonly string? _checkpointFolder;

    /// <param name="checkpointRoot">Where checkpoints live (one sub-folder per phase); null disables checkpoints.</param>
    /// <param name="emaDecay">EMA decay for every module, or null for none.</param>
    public TrainingLoop(string phase, IReadOnlyList<TrainableModule> modules, OptimizerSettings settings, int totalSteps,
        string? checkpointRoot, double? emaDecay = null, IEnumerable<Parameter>? parameters = null)
    {
        _phase = phase;
        _modules = modules;
        _settings = settings;
        TotalSteps = totalSteps;
        _parameters = (parameters ?? modules.SelectMany(m => m.Module.parameters())).Where(p => p.requires_grad).ToList();
        if (_parameters.Count == 0)
            throw new ArgumentException("Nothing to train: no parameter requires a gradient.", nameof(modules));
        // One parameter group per module when their learning rates differ (in module order, so that a checkpoint's
        // optimizer state lines up); else a single group, as checkpoints written before scales existed have.
        _groupScales = parameters is null && modules.Any(m => m.LearningRateScale != 1.0)
            ? modules.Select(m => m.LearningRateScale).ToList()
            : [1.0];
        _optimizer = _groupScales.Count > 1
            ? optim.AdamW(modules.Select(m => new TorchSharp.Modules.AdamW.ParamGroup(
                    m.Module.parameters().Where(p => p.requires_grad), settings.LearningRate * m.LearningRateScale,
                    settings.Beta1, settings.Beta2, settings.Epsilon, settings.WeightDecay)),
                settings.LearningRate, settings.Beta1, settings.Beta2, settings.Epsilon, settings.WeightDecay)
            : optim.AdamW(_parameters, settings.LearningRate, settings.Beta1, settings.Beta2, settings.Epsilon, settings.WeightDecay);
        if (emaDecay is { } decay)
            foreach (var m in modules)
                _ema[m.Name] = new ExponentialMovingAverage(m.Module, decay);
        _checkpointFolder = checkpointRoot is null ? null : Path.Combine(checkpointRoot, phase);
    }

    public int TotalSteps { get; }

    /// <summary>The next step to run (after a resume, the step after the checkpoint).</summary>
    public int Step { get; private set; }

    /// <summary>How many steps pass between checkpoints.</summary>
    public int CheckpointEvery { get; init; } = 500;

    /// <summary>
    /// When set, <see cref="Run"/> ends (with a checkpoint) at this step although the learning-rate schedule spans
    /// <see cref="TotalSteps"/>: a run cut short on purpose, reproducibly. Settable between runs, so that one loop (and its
    /// optimizer state) can run a phase in slices, as fine-tunes that yield to generations do.
    /// </summary>
    public int? StopAfter { get; set; }

    /// <summary>How many steps pass between progress reports.</summary>
    public int ReportEvery { get; init; } = 10;

    /// <summary>Whether the phase already finished in an earlier run (its final checkpoint exists).</summary>
    public bool IsComplete => Step >= TotalSteps;

    /// <summary>Restores modules, optimizer and EMA from the phase's checkpoint, if there is one.</summary>
    /// <returns>true when a checkpoint was found.</returns>
    public bool TryResume()
    {
        if (_checkpointFolder is null || !File.Exists(Path.Combine(_checkpointFolder, "state.json")))
            return false;
        using var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(_checkpointFolder, "state.json")));
        Step = state.RootElement.GetProperty("step").GetInt32();
        foreach (var m in _modules)
        {
            using var file = SafeTensorsFile.Open(Path.Combine(_checkpointFolder, m.Name + ".safetensors"));
            WeightLoader.LoadInto(m.Module, [file], $"{_phase}/{m.Name} checkpoint");
            if (_ema.TryGetValue(m.Name, out var ema))
            {
                using var emaFile = SafeTensorsFile.Open(Path.Combine(_checkpointFolder, m.Name + ".ema.safetensors"));
                var values = emaFile.Keys.ToDictionary(k => k, emaFile.Load);
                ema.Load(values);
                ema.Updates = state.RootElement.GetProperty("ema_updates").GetInt64();
                foreach (var v in values.Values)
                    v.Dispose();
            }
        }
        // A finished phase is resumed for its weights only; its optimizer state may have other parameter groups
        // (a later phase with other learning-rate scales re-runs the finished ones' constructors).
        if (!IsComplete)
            _optimizer.load_state_dict(Path.Combine(_checkpointFolder, "optimizer.bin"));
        return true;
    }

    /// <summary>
    /// Runs the remaining steps. <paramref name="lossAt"/> computes the scalar loss of one step from the step
    /// number alone (it seeds its own generator with it), inside a dispose scope that the loop owns.
    /// </summary>
    public void Run(Func<int, Tensor> lossAt, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        foreach (var m in _modules)
            m.Module.train();
        var watch = Stopwatch.StartNew();
        var windowStart = Step;
        var lossSum = 0.0;
        var lossCount = 0;
        var end = Math.Min(StopAfter ?? TotalSteps, TotalSteps);
        while (Step < end)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var learningRate = _settings.LearningRateAt(Step, TotalSteps);
            foreach (var (group, scale) in _optimizer.ParamGroups.Zip(_groupScales))
                group.LearningRate = learningRate * scale;
            using (var scope = torch.NewDisposeScope())
            {
                _optimizer.zero_grad();
                var loss = lossAt(Step);
                loss.backward();
                if (_settings.MaxGradNorm > 0)
                    nn.utils.clip_grad_norm_(_parameters, _settings.MaxGradNorm);
                _optimizer.step();
                lossSum += loss.item<float>();
                lossCount++;
            }
            foreach (var ema in _ema.Values)
                ema.Update();
            Step++;
            if (Step % ReportEvery == 0 || Step == end)
            {
                var seconds = watch.Elapsed.TotalSeconds;
                progress?.Report(new TrainingProgress(_phase, Step, TotalSteps, lossSum / Math.Max(1, lossCount), learningRate, (Step - windowStart) / Math.Max(1e-9, seconds)));
                lossSum = 0;
                lossCount = 0;
                watch.Restart();
                windowStart = Step;
            }
            if (Step % CheckpointEvery == 0 || Step == end)
                SaveCheckpoint();
        }
        foreach (var m in _modules)
            m.Module.eval();
    }

    /// <summary>The EMA of one module, when an EMA is kept.</summary>
    public ExponentialMovingAverage? EmaOf(string name) => _ema.GetValueOrDefault(name);

    private void SaveCheckpoint()
    {
        if (_checkpointFolder is null)
            return;
        Directory.CreateDirectory(_checkpointFolder);
        foreach (var m in _modules)
        {
            SafeTensorsWriter.Write(Path.Combine(_checkpointFolder, m.Name + ".safetensors"), StateOf(m.Module));
            if (_ema.TryGetValue(m.Name, out var ema))
                SafeTensorsWriter.Write(Path.Combine(_checkpointFolder, m.Name + ".ema.safetensors"), ema.Parameters);
        }
        _optimizer.save_state_dict(Path.Combine(_checkpointFolder, "optimizer.bin"));
        var emaUpdates = _ema.Values.FirstOrDefault()?.Updates ?? 0;
        var state = JsonSerializer.Serialize(new { step = Step, total_steps = TotalSteps, ema_updates = emaUpdates });
        // state.json is written last: its presence means the files it describes are complete.
        File.WriteAllText(Path.Combine(_checkpointFolder, "state.json.tmp"), state);
        File.Move(Path.Combine(_checkpointFolder, "state.json.tmp"), Path.Combine(_checkpointFolder, "state.json"), overwrite: true);
    }

    /// <summary>A module's parameters and buffers by checkpoint name.</summary>
    public static IEnumerable<KeyValuePair<string, Tensor>> StateOf(nn.Module module) =>
        module.named_parameters().Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter))
            .Concat(module.named_buffers().Select(b => new KeyValuePair<string, Tensor>(b.name, b.buffer)));

    public void Dispose()
    {
        foreach (var ema in _ema.Values)
            ema.Dispose();
        _optimizer.Dispose();
    }
}
