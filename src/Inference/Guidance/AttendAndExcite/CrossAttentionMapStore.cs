using Easel.Inference.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Guidance.AttendAndExcite;

/// <summary>
/// Keeps the cross-attention probabilities of one grad-enabled UNet call, grouped by query length (one group per
/// resolution), with their graph, so that a loss on them reaches the latents. Diffusers' AttentionStore keeps only the
/// layers of attn_res; keeping every group lets the default resolution be chosen among those the model has.
/// </summary>
internal sealed class CrossAttentionMapStore
{
    private readonly Dictionary<long, List<Tensor>> _maps = [];

    /// <param name="probabilities">(B·heads, N, T) of one cross-attention layer; kept (the caller's scope may dispose its handle).</param>
    public void Add(Tensor probabilities)
    {
        var queries = probabilities.shape[1];
        if (!_maps.TryGetValue(queries, out var layers))
            _maps[queries] = layers = [];
        layers.Add(probabilities.alias().DetachFromDisposeScope());
    }

    /// <summary>The query lengths (h·w) the call's cross-attention ran at.</summary>
    public IReadOnlyCollection<long> QueryLengths => _maps.Keys;

    /// <summary>
    /// The maps at (height, width) averaged over the layers of that resolution and their heads (and the batch rows,
    /// one here): (height, width, T), as diffusers' aggregate_attention.
    /// </summary>
    public Tensor Aggregate(int height, int width)
    {
        if (!_maps.TryGetValue((long)height * width, out var layers))
            throw new InvalidOperationException($"No cross-attention map at {height}×{width} was recorded.");
        using var scope = torch.NewDisposeScope();
        var tokens = layers[0].shape[2];
        var stacked = torch.cat(layers.Select(m => m.reshape(-1, height, width, tokens)).ToArray(), 0); // (layers·heads, h, w, T)
        return (stacked.sum(dim: 0L) / stacked.shape[0]).MoveToOuterDisposeScope();
    }

    public void Clear()
    {
        foreach (var map in _maps.Values.SelectMany(m => m))
            map.Dispose();
        _maps.Clear();
    }
}

/// <summary>
/// On the call that carries its store in the attention context (Attend-and-Excite's probe), computes attention as
/// <see cref="AttnProcessor"/> and records the probabilities; on every other call the processor it replaced runs.
/// </summary>
internal sealed class MapRecordingProcessor(CrossAttentionMapStore store, IAttentionProcessor installed) : AttnProcessor
{
    public override Tensor Process(Attention attention, Tensor hiddenStates, Tensor? encoderHiddenStates, Tensor? attentionMask, AttentionContext? context) =>
        context?.Get<CrossAttentionMapStore>() == store
            ? base.Process(attention, hiddenStates, encoderHiddenStates, attentionMask, context)
            : installed.Process(attention, hiddenStates, encoderHiddenStates, attentionMask, context);

    protected override Tensor OnAttentionProbabilities(Attention attention, Tensor probabilities, AttentionContext? context)
    {
        store.Add(probabilities);
        return probabilities;
    }
}
