using Easel.Inference.Shapes;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Training.Control;

/// <summary>One training step's scenes: what they are, their pixels, their latents and captions, and the step's generator.</summary>
/// <param name="Pixels">The rendered scenes, RGB bytes, one 64×64×3 block per scene.</param>
/// <param name="Latents">(B, 4, 16, 16) scaled posterior samples of the scenes.</param>
/// <param name="Generator">Seeded by (seed, step): the objective draws the step's timesteps, noise and caption drops from it.</param>
public sealed record ShapesControlBatch(IReadOnlyList<GeneratedScene> Scenes, byte[] Pixels, Tensor Latents, IReadOnlyList<string> Captions,
    Generator Generator)
{
    public const int ImageBytes = ShapeRenderer.Size * ShapeRenderer.Size * 3;

    /// <summary>Scene <paramref name="index"/>'s pixels.</summary>
    public ReadOnlySpan<byte> PixelsOf(int index) => Pixels.AsSpan(index * ImageBytes, ImageBytes);

    /// <summary>Stacks one control map per scene into a (B, C, 64, 64) float32 tensor.</summary>
    /// <param name="map">Writes scene i's map, channel-major, into the span it is given.</param>
    public Tensor StackMaps(int channels, Action<int, Span<float>> map)
    {
        var size = ShapeRenderer.Size * ShapeRenderer.Size * channels;
        var values = new float[Scenes.Count * size];
        Parallel.For(0, Scenes.Count, i => map(i, values.AsSpan(i * size, size)));
        return torch.tensor(values, [Scenes.Count, channels, ShapeRenderer.Size, ShapeRenderer.Size]);
    }
}
