using Easel.Inference.Models.UNet;
using Easel.Inference.Pipelines.Denoising;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Control.T2IAdapter;

/// <summary>
/// Adds a request's T2I-Adapter features to the UNet's down_intrablock_additional_residuals, as diffusers'
/// StableDiffusionAdapterPipeline and StableDiffusionXLAdapterPipeline: the features are computed once per generation (the
/// condition image does not change across steps), scaled (one adapter: × scale; several: the MultiAdapter weighted sum
/// with the scales as weights), given to every row of the step's batch — the unconditional half of guidance too — and
/// used only on the first ⌊N·factor⌋ steps (adapter_conditioning_factor). Features of an earlier contributor are added to.
/// </summary>
public sealed class T2IAdapterDenoisingExtension : IUNetConditioningContributor, IDisposable
{
    private readonly IReadOnlyList<T2IAdapterUnit> _units;
    private IReadOnlyList<Tensor>? _features;

    /// <param name="units">One or more adapters with their images and scales.</param>
    /// <param name="factor">diffusers' adapter_conditioning_factor: the fraction of the steps, from the first, that get the features.</param>
    public T2IAdapterDenoisingExtension(IReadOnlyList<T2IAdapterUnit> units, double factor = 1.0)
    {
        ArgumentOutOfRangeException.ThrowIfZero(units.Count, nameof(units));
        if (!(factor >= 0 && factor <= 1))
            throw new ArgumentOutOfRangeException(nameof(factor), factor, "The adapter conditioning factor must be in [0, 1].");
        foreach (var unit in units)
        {
            var config = unit.Model.Config;
            if (unit.Image.dim() != 4 || unit.Image.shape[0] != 1 || unit.Image.shape[1] != config.InChannels)
                throw new ArgumentException(
                    $"An adapter image must be (1, {config.InChannels}, H, W); got ({string.Join(", ", unit.Image.shape)}).", nameof(units));
        }
        MultiAdapter.CheckSameDownscaling(units.Select(u => u.Model.Config).ToList());
        _units = units;
        Factor = factor;
    }

    public double Factor { get; }

    /// <summary>Whether step <paramref name="index"/> of <paramref name="total"/> gets the features: i &lt; int(N·factor), as diffusers.</summary>
    public static bool IsActiveAt(int index, int total, double factor) => index < (int)(total * factor);

    public UNetConditioning Contribute(DenoisingStep step, Tensor modelInput, UNetConditioning conditioning)
    {
        if (!IsActiveAt(step.Index, step.TotalSteps, Factor))
            return conditioning;
        _features ??= Compute();
        var rows = modelInput.shape[0];
        var features = _features.Select(f => f.expand([rows, .. f.shape[1..]])).ToList(); // (B, Ci, hi, wi), the same for every row
        return conditioning with
        {
            DownIntrablockResiduals = conditioning.DownIntrablockResiduals is { } earlier ? MultiAdapter.Add(earlier, features) : features,
        };
    }

    /// <summary>The scaled features of every unit, (1, Ci, hi, wi) each, kept for the rest of the generation.</summary>
    private IReadOnlyList<Tensor> Compute()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var perUnit = _units.Select(u => u.Model.call(u.Image.to(u.Model.DType, u.Model.Device))).ToList();
        var sum = MultiAdapter.WeightedSum(perUnit, _units.Select(u => u.Scale).ToList());
        return sum.Select(f => f.DetachFromDisposeScope()).ToList();
    }

    /// <summary>Releases the kept features (the adapters and images stay the caller's).</summary>
    public void Dispose()
    {
        if (_features is null)
            return;
        foreach (var feature in _features)
            feature.Dispose();
        _features = null;
    }
}
