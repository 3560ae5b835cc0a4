using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Easel.Inference.Training;

/// <summary>
/// An exponential moving average of a module's parameters (Polyak averaging), with the usual warm-up
/// min(decay, (1 + n) / (10 + n)) so that early averages are not dominated by the random initialisation.
/// </summary>
public sealed class ExponentialMovingAverage : IDisposable
{
    private readonly List<(string Name, Parameter Source, Tensor Shadow)> _entries;

    public ExponentialMovingAverage(nn.Module module, double decay)
    {
        Decay = decay;
        using var noGrad = torch.no_grad();
        _entries = module.named_parameters()
            .Select(p => (p.name, p.parameter, p.parameter.detach().clone().DetachFromDisposeScope()))
            .ToList();
    }

    public double Decay { get; }

    /// <summary>Number of updates applied so far (restored on resume).</summary>
    public long Updates { get; set; }

    public void Update()
    {
        using var noGrad = torch.no_grad();
        var decay = Math.Min(Decay, (1.0 + Updates) / (10.0 + Updates));
        foreach (var (_, source, shadow) in _entries)
            shadow.mul_(decay).add_(source.detach(), alpha: 1 - decay);
        Updates++;
    }

    /// <summary>The averaged parameters by name (views of the shadow tensors, not copies).</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> Parameters => _entries.Select(e => new KeyValuePair<string, Tensor>(e.Name, e.Shadow));

    /// <summary>Overwrites the shadow tensors from a checkpoint.</summary>
    public void Load(IReadOnlyDictionary<string, Tensor> values)
    {
        using var noGrad = torch.no_grad();
        foreach (var (name, _, shadow) in _entries)
        {
            if (!values.TryGetValue(name, out var value))
                throw new InvalidDataException($"The EMA checkpoint has no tensor '{name}'.");
            shadow.copy_(value);
        }
    }

    /// <summary>Copies the averaged parameters into <paramref name="module"/> (same architecture).</summary>
    public void CopyTo(nn.Module module)
    {
        using var noGrad = torch.no_grad();
        var targets = module.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, _, shadow) in _entries)
            targets[name].copy_(shadow);
    }

    public void Dispose()
    {
        foreach (var entry in _entries)
            entry.Shadow.Dispose();
    }
}
