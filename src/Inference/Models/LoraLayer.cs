using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Models;

/// <summary>
/// A linear or convolution layer that can carry any number of LoRA updates (Hu et al. 2021) next to its frozen weight:
/// y = W x + b + Σᵢ sᵢ·(αᵢ/rᵢ)·upᵢ(downᵢ(x)). Its parameters are named <c>weight</c> and <c>bias</c> like the layer it
/// replaces, so checkpoints load unchanged and the updates never appear in the model's state dict.
/// <para>
/// Two ways to apply the updates: unmerged (the side path above, on every call; what training needs) or merged
/// (<see cref="Merge"/>: W ← W_orig + Σ ΔW once, computed in float32 from a kept copy of W_orig; <see cref="Unmerge"/>
/// copies W_orig back, so the original bits return exactly — never by subtracting ΔW again, which rounds).
/// </para>
/// </summary>
public abstract class LoraLayer : nn.Module<Tensor, Tensor>
{
    private readonly List<ActiveAdapter> _adapters = [];
    private Tensor? _original;

    protected LoraLayer(string name) : base(name)
    {
    }

    /// <summary>The layer's own weight ([out, in] or [out, in, k, k]).</summary>
    public abstract Parameter Weight { get; }

    public abstract Parameter? Bias { get; }

    /// <summary>True while the adapters are folded into <see cref="Weight"/>.</summary>
    public bool IsMerged => _original is not null;

    /// <summary>The adapters in the order they were added, with the scale each was added at.</summary>
    public IReadOnlyList<(LoraLayerWeights Weights, double Scale)> Adapters => _adapters.Select(a => (a.Weights, a.Scale)).ToList();

    /// <summary>Adds an update applied at <paramref name="scale"/> (the user's LoRA strength; α/r comes on top).</summary>
    /// <exception cref="ArgumentException">The update's shapes do not fit this layer.</exception>
    public void AddAdapter(LoraLayerWeights weights, double scale)
    {
        if (IsMerged)
            throw new InvalidOperationException("Unmerge the layer before changing its adapters.");
        var (down, up) = Normalise(weights.Down, weights.Up);
        if (!weights.IsTrainable)
        {
            // Frozen updates are converted once; trainable ones per call, so that autograd reaches the leaf tensors.
            var dtype = Weight.dtype;
            var device = Weight.device;
            down = down.to(dtype, device).detach().DetachFromDisposeScope();
            up = up.to(dtype, device).detach().DetachFromDisposeScope();
        }
        _adapters.Add(new ActiveAdapter(weights, scale, down, up));
    }

    /// <summary>Why <paramref name="weights"/> cannot be added to this layer, or null when they fit.</summary>
    public string? Misfit(LoraLayerWeights weights)
    {
        using var scope = torch.NewDisposeScope();
        try
        {
            Normalise(weights.Down, weights.Up);
            return null;
        }
        catch (ArgumentException e)
        {
            return e.Message;
        }
    }

    /// <summary>Removes every adapter (unmerging first when merged).</summary>
    public void ClearAdapters()
    {
        if (IsMerged)
            Unmerge();
        foreach (var adapter in _adapters.Where(a => !a.Weights.IsTrainable))
        {
            adapter.Down.Dispose();
            adapter.Up.Dispose();
        }
        _adapters.Clear();
    }

    /// <summary>W ← W_orig + Σ sᵢ·(αᵢ/rᵢ)·upᵢ·downᵢ, keeping W_orig for <see cref="Unmerge"/>.</summary>
    public void Merge()
    {
        if (IsMerged || _adapters.Count == 0)
            return;
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var original = Weight.detach().clone();
        var merged = original.to(ScalarType.Float32);
        foreach (var adapter in _adapters)
            merged = merged + Delta(adapter.Down.to(ScalarType.Float32), adapter.Up.to(ScalarType.Float32)) * (adapter.Scale * adapter.Weights.Scale);
        Weight.copy_(merged);
        _original = original.MoveToOuterDisposeScope();
    }

    /// <summary>Copies the kept original weight back (bit-identical to before <see cref="Merge"/>).</summary>
    public void Unmerge()
    {
        if (_original is null)
            return;
        using (torch.no_grad())
            Weight.copy_(_original);
        _original.Dispose();
        _original = null;
    }

    public override Tensor forward(Tensor x)
    {
        var y = BaseForward(x);
        if (IsMerged)
            return y;
        foreach (var adapter in _adapters)
        {
            var down = adapter.Down;
            var up = adapter.Up;
            if (adapter.Weights.IsTrainable)
            {
                down = down.to(x.dtype, x.device);
                up = up.to(x.dtype, x.device);
            }
            // The factor multiplies the rank-r intermediate: r channels instead of the output's.
            y = y + UpForward(DownForward(x, down) * (adapter.Scale * adapter.Weights.Scale), up);
        }
        return y;
    }

    /// <summary>W x + b.</summary>
    protected abstract Tensor BaseForward(Tensor x);

    /// <summary>down(x): [.., r] for linear, (B, r, H', W') for a convolution.</summary>
    protected abstract Tensor DownForward(Tensor x, Tensor down);

    protected abstract Tensor UpForward(Tensor h, Tensor up);

    /// <summary>up·down in the shape of <see cref="Weight"/>.</summary>
    protected abstract Tensor Delta(Tensor down, Tensor up);

    /// <summary>The update's tensors in the shapes this layer applies (e.g. a 1×1 conv update on a linear layer).</summary>
    /// <exception cref="ArgumentException">They do not fit.</exception>
    protected abstract (Tensor Down, Tensor Up) Normalise(Tensor down, Tensor up);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _original?.Dispose();
            _original = null;
        }
        base.Dispose(disposing);
    }

    private sealed record ActiveAdapter(LoraLayerWeights Weights, double Scale, Tensor Down, Tensor Up);
}
