using static TorchSharp.torch;

namespace Easel.Inference.Schedulers;

/// <summary>
/// Replays recorded noise tensors in order (the parity fixtures' rng.NNN tape). Fails loudly when
/// the tape is exhausted or a draw has another shape, so a misaligned tape cannot pass silently.
/// </summary>
public sealed class TapeNoiseSource : INoiseSource
{
    private readonly IReadOnlyList<Tensor> _tape;

    public TapeNoiseSource(IReadOnlyList<Tensor> tape) => _tape = tape;

    /// <summary>How many tensors have been served.</summary>
    public int Position { get; private set; }

    public int Remaining => _tape.Count - Position;

    public Tensor Next(long[] shape, ScalarType dtype, Device device)
    {
        if (Position >= _tape.Count)
            throw new InvalidOperationException($"Noise tape exhausted after {_tape.Count} draws.");
        var recorded = _tape[Position];
        if (!recorded.shape.SequenceEqual(shape))
            throw new InvalidOperationException(
                $"Noise draw {Position} wants shape [{string.Join(", ", shape)}] but the tape holds [{string.Join(", ", recorded.shape)}].");
        Position++;
        return recorded.to(dtype, device);
    }
}
