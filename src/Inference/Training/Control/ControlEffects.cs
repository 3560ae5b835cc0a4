using Easel.Inference.Shapes;

namespace Easel.Inference.Training.Control;

/// <summary>
/// How well a generated 64×64 shapes image follows a control condition (issue 14 §7), shared by the eval-control tool
/// and the end-to-end tests: edge agreement for ControlNet, colour agreement for the T2I colour adapter, box agreement
/// for GLIGEN. Each reads the image with the shapes judge or the Canny detector, never with the model.
/// </summary>
public static class ControlEffects
{
    private const int Size = ShapeRenderer.Size;

    /// <summary>IoU of two 64×64 edge masks after each is dilated by a 3×3 square (1 px), so that edges a pixel apart agree.</summary>
    public static double DilatedEdgeIou(bool[] a, bool[] b)
    {
        var (da, db) = (Dilate(a), Dilate(b));
        var union = da.Zip(db).Count(p => p.First || p.Second);
        return union == 0 ? 1.0 : da.Zip(db).Count(p => p.First && p.Second) / (double)union;
    }

    /// <summary>The edge IoU of a generated image with the edges of the drawing its condition was made from.</summary>
    public static double EdgeIou(ReadOnlySpan<byte> drawing, ReadOnlySpan<byte> generated) =>
        DilatedEdgeIou(ShapesControlMaps.EdgeMask(drawing), ShapesControlMaps.EdgeMask(generated));

    /// <summary>
    /// For each object of the scene, whether the judge found an object near its place (centre within its scale, at least
    /// 6 px) in its colour, the colour the scene's palette map holds there. An object not found counts as not kept.
    /// </summary>
    public static int ColoursKept(Scene scene, ReadOnlySpan<byte> generated)
    {
        var found = ShapeJudge.Default.Analyze(generated).Objects;
        return scene.Objects.Count(o =>
        {
            var nearest = found.MinBy(d => Distance(d, o));
            return nearest is not null && Distance(nearest, o) <= Math.Max(6, o.Scale) && nearest.Color == o.Color;
        });
    }

    /// <summary>How many of the objects have a judged object of their colour and kind whose box has IoU ≥ <paramref name="minIou"/> with theirs.</summary>
    public static int BoxesHit(IReadOnlyList<SceneObject> objects, ReadOnlySpan<byte> generated, double minIou = 0.5)
    {
        var found = ShapeJudge.Default.Analyze(generated).Objects;
        return objects.Count(o => found.Where(d => d.Color == o.Color && d.Kind == o.Kind).Any(d => BoxIou(o.Bounds, BoundsOf(d)) >= minIou));
    }

    /// <summary>The bounding box of the template the judge fitted to a detected object.</summary>
    public static (double Left, double Top, double Right, double Bottom) BoundsOf(DetectedObject d) =>
        (d.CenterX - d.Features.Width / 2, d.CenterY - d.Features.Height / 2, d.CenterX + d.Features.Width / 2, d.CenterY + d.Features.Height / 2);

    public static double BoxIou((double Left, double Top, double Right, double Bottom) a, (double Left, double Top, double Right, double Bottom) b)
    {
        var w = Math.Max(0, Math.Min(a.Right, b.Right) - Math.Max(a.Left, b.Left));
        var h = Math.Max(0, Math.Min(a.Bottom, b.Bottom) - Math.Max(a.Top, b.Top));
        var intersection = w * h;
        var union = (a.Right - a.Left) * (a.Bottom - a.Top) + (b.Right - b.Left) * (b.Bottom - b.Top) - intersection;
        return union <= 0 ? 0 : intersection / union;
    }

    private static double Distance(DetectedObject d, SceneObject o) => double.Hypot(d.CenterX - o.CenterX, d.CenterY - o.CenterY);

    private static bool[] Dilate(bool[] mask)
    {
        var dilated = new bool[mask.Length];
        for (var y = 0; y < Size; y++)
            for (var x = 0; x < Size; x++)
                for (var dy = -1; dy <= 1; dy++)
                    for (var dx = -1; dx <= 1; dx++)
                    {
                        var (nx, ny) = (x + dx, y + dy);
                        if (nx is >= 0 and < Size && ny is >= 0 and < Size && mask[ny * Size + nx])
                            dilated[y * Size + x] = true;
                    }
        return dilated;
    }
}
