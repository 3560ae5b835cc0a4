namespace Easel.Inference.Shapes;

/// <summary>One rendered item of a <see cref="RingDataset"/>: the scene with its caption, and its 64·64·3 HWC RGB pixels.</summary>
public sealed record RenderedScene(GeneratedScene Item, byte[] Rgb);

/// <summary>
/// Captioned images of single rings of one colour, for teaching a model the new concept: sizes, positions and
/// backgrounds as in the shapes world, captions from its grammar ("a red ring", "a large red ring on the left"; the
/// colour and kind are always named). Item <c>i</c> depends only on (seed, i): every colour gets the same layouts.
/// </summary>
public sealed class RingDataset(ShapeColor color, ulong seed)
{
    public ShapeColor Color { get; } = color;
    public ulong Seed { get; } = seed;

    /// <summary>The generator options behind the dataset: one ring of <see cref="Color"/> per scene.</summary>
    public SceneGeneratorOptions Options => SceneGeneratorOptions.Default with
    {
        OneObject = 1.0, TwoObjects = 0.0, OmitColor = 0.0, OmitKind = 0.0, Kinds = [ShapeKind.Ring], Colors = [Color],
    };

    /// <summary>Items <paramref name="start"/> … <paramref name="start"/> + <paramref name="count"/> − 1, rendered.</summary>
    public IReadOnlyList<RenderedScene> Render(int count, ulong start = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var generator = new SceneGenerator(Seed, Options);
        return generator.Stream(start).Take(count).Select(g => new RenderedScene(g, ShapeRenderer.Render(g.Scene))).ToArray();
    }
}
