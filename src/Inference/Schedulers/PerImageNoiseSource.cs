using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Schedulers;

/// <summary>
/// Noise with one CPU generator per image of the batch, seeded seed + i (A1111's per-image seeds): image i of every draw
/// comes from generator i alone, so image i of a batch equals the single-image run with seed + i.
/// </summary>
public sealed class PerImageNoiseSource : INoiseSource
{
    private readonly IReadOnlyList<Generator> _generators;

    public PerImageNoiseSource(IReadOnlyList<Generator> generators)
    {
        ArgumentOutOfRangeException.ThrowIfZero(generators.Count);
        _generators = generators;
    }

    /// <summary><paramref name="count"/> CPU generators seeded <paramref name="seed"/>, <paramref name="seed"/> + 1, ….</summary>
    public static PerImageNoiseSource FromSeed(long seed, int count) =>
        new([.. Enumerable.Range(0, count).Select(i => new Generator((ulong)(seed + i), CPU))]);

    /// <summary>Images in the batch (the batch dimension every draw must have).</summary>
    public int Count => _generators.Count;

    public Tensor Next(long[] shape, ScalarType dtype, Device device)
    {
        if (shape.Length == 0 || shape[0] != Count)
            throw new InvalidOperationException(
                $"A draw of shape [{string.Join(", ", shape)}] from a source with {Count} per-image generators: the batch dimension must be {Count}.");
        return Draw(shape[1..], dtype, device);
    }

    public Tensor NextRepeated(long[] shape, int count, ScalarType dtype, Device device)
    {
        if (shape.Length == 0 || shape[0] != 1 || count != Count)
            throw new InvalidOperationException(
                $"A repeated draw of shape [{string.Join(", ", shape)}] × {count} from a source with {Count} per-image generators: it must be one image × {Count}.");
        return Draw(shape[1..], dtype, device);
    }

    /// <summary>(Count, …itemShape): image i drawn from generator i, on the CPU like <see cref="GeneratorNoiseSource"/>, then moved.</summary>
    private Tensor Draw(long[] itemShape, ScalarType dtype, Device device)
    {
        using var scope = torch.NewDisposeScope();
        long[] single = [1, .. itemShape];
        var noise = torch.cat(_generators.Select(g => torch.randn(single, dtype: dtype, device: g.device, generator: g)).ToArray(), 0);
        return (noise.device == device ? noise : noise.to(device)).MoveToOuterDisposeScope();
    }
}
