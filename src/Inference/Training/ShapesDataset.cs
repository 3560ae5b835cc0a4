using Easel.Inference.Shapes;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Training;

/// <summary>
/// Training batches from the procedural shapes world: scene i of a seeded generator is always the same
/// image and caption, so a batch is a pure function of its indices and a resumed run sees the same data.
/// </summary>
public sealed class ShapesDataset(ulong seed, SceneGeneratorOptions? options = null)
{
    private readonly SceneGenerator _generator = new(seed, options);

    public GeneratedScene Scene(ulong index) => _generator.Generate(index);

    /// <summary>Renders the scenes at <paramref name="indices"/> as an (N, 3, 64, 64) float32 batch in [-1, 1].</summary>
    public Tensor Images(IReadOnlyList<ulong> indices)
    {
        var size = ShapeRenderer.Size;
        var pixels = new byte[indices.Count * size * size * 3];
        Parallel.For(0, indices.Count, i =>
            ShapeRenderer.Render(_generator.Generate(indices[i]).Scene, pixels.AsSpan(i * size * size * 3, size * size * 3)));
        using var scope = torch.NewDisposeScope();
        var hwc = torch.tensor(pixels, [indices.Count, size, size, 3], dtype: ScalarType.Byte);
        return (hwc.permute(0, 3, 1, 2).to(float32) / 127.5 - 1).contiguous().MoveToOuterDisposeScope(); // (N, 3, H, W)
    }

    /// <summary>The captions of the scenes at <paramref name="indices"/>.</summary>
    public IReadOnlyList<string> Captions(IReadOnlyList<ulong> indices) => indices.Select(i => _generator.Generate(i).Caption).ToList();
}
