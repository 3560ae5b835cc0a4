namespace Easel.Inference.Shapes;

/// <summary>How often the generator uses each caption form. Probabilities are per scene (or per object where named).</summary>
public sealed record SceneGeneratorOptions
{
    /// <summary>Probability of a one-object scene; <see cref="TwoObjects"/> of two; the rest are three-object scenes.</summary>
    public double OneObject { get; init; } = 0.5;
    public double TwoObjects { get; init; } = 0.35;

    /// <summary>Per object: the caption names its size.</summary>
    public double MentionSize { get; init; } = 0.35;

    /// <summary>One-object scenes: the caption names its position.</summary>
    public double MentionPosition { get; init; } = 0.5;

    /// <summary>Two-object scenes: the caption relates them ("above", "to the left of").</summary>
    public double Relation { get; init; } = 0.25;

    /// <summary>Two-object scenes without a relation: the caption gives them opposite positions (left/right or top/bottom).</summary>
    public double PairPositions { get; init; } = 0.3;

    /// <summary>One-object scenes: the caption leaves out the colour ("a circle") or the kind ("a red shape").</summary>
    public double OmitColor { get; init; } = 0.03;
    public double OmitKind { get; init; } = 0.03;

    /// <summary>
    /// The kinds objects are drawn from, uniformly. Defaults to the bundled model's four (<see cref="ShapeKinds.Trained"/>):
    /// with the same number of kinds every draw, and so the whole stream, stays as it was before rings existed.
    /// </summary>
    public IReadOnlyList<ShapeKind> Kinds { get; init; } = ShapeKinds.Trained;

    /// <summary>The colours objects are drawn from, uniformly (all of the palette by default).</summary>
    public IReadOnlyList<ShapeColor> Colors { get; init; } = ShapePalette.Colors;

    public static SceneGeneratorOptions Default { get; } = new();
}

/// <summary>One item of the shapes stream: the scene, its caption, and what the caption asks (for the judge).</summary>
public sealed record GeneratedScene(ulong Index, Scene Scene, string Caption, SceneSpec Spec);

/// <summary>
/// The seeded, infinite stream of shapes scenes. Item <c>i</c> depends only on (seed, i), so any item can be produced
/// on its own (random access for data loaders, parallel generation) and the stream is the same on every machine.
/// Every caption is true of its scene: positions are by thirds (<see cref="ShapeLayout.IsAt"/>) with a 1.5 px margin,
/// sizes by <see cref="ShapeLayout.ScaleRange"/>, relations with a clear vertical or horizontal offset; objects'
/// bounding boxes are at least 4 px apart and 2 px inside the canvas.
/// </summary>
public sealed class SceneGenerator(ulong seed, SceneGeneratorOptions? options = null)
{
    private const double Canvas = Scene.CanvasSize, Border = 2, Gap = 4, ThirdMargin = 1.5;
    private static readonly ShapeSize[] AllSizes = Enum.GetValues<ShapeSize>();
    private static readonly ShapePosition[] AllPositions =
        [ShapePosition.Left, ShapePosition.Right, ShapePosition.Top, ShapePosition.Bottom, ShapePosition.Centre];
    private static readonly ShapeRelation[] AllRelations = Enum.GetValues<ShapeRelation>();

    public ulong Seed { get; } = seed;
    public SceneGeneratorOptions Options { get; } = options ?? SceneGeneratorOptions.Default;

    /// <summary>The infinite stream from item <paramref name="start"/> on.</summary>
    public IEnumerable<GeneratedScene> Stream(ulong start = 0)
    {
        for (ulong i = start; ; i++) yield return Generate(i);
    }

    /// <summary>Item <paramref name="index"/> of the stream.</summary>
    public GeneratedScene Generate(ulong index)
    {
        var rng = ShapesRandom.ForItem(Seed, index);
        while (true)
        {
            var (spec, objects) = DrawSpec(rng);
            var placed = Place(rng, spec, objects);
            if (placed is null) continue; // could not lay it out (e.g. three large objects): draw another spec
            var scene = new Scene(rng.Pick(ShapePalette.Backgrounds), placed);
            return new GeneratedScene(index, scene, CaptionWriter.Write(spec), spec);
        }
    }

    /// <summary>What the caption says, and the full attributes of each object (unsaid ones drawn at random).</summary>
    private (SceneSpec Spec, (ShapeKind Kind, ShapeColor Color, ShapeSize Size, ShapePosition Position)[] Objects) DrawSpec(ShapesRandom rng)
    {
        var o = Options;
        double u = rng.NextDouble();
        int n = u < o.OneObject ? 1 : u < o.OneObject + o.TwoObjects ? 2 : 3;
        var objects = new (ShapeKind Kind, ShapeColor Color, ShapeSize Size, ShapePosition Position)[n];
        var specs = new ObjectSpec[n];
        for (int k = 0; k < n; k++)
        {
            var kind = rng.Pick(o.Kinds);
            var color = rng.Pick(o.Colors);
            var size = rng.Pick(AllSizes);
            objects[k] = (kind, color, size, ShapePosition.Unspecified);
            specs[k] = new ObjectSpec(color, kind, rng.Chance(o.MentionSize) ? size : null);
        }
        RelationSpec? relation = null;
        if (n == 1)
        {
            if (rng.Chance(o.MentionPosition))
            {
                var p = rng.Pick(AllPositions);
                objects[0].Position = p;
                specs[0] = specs[0] with { Position = p };
            }
            if (rng.Chance(o.OmitColor)) specs[0] = specs[0] with { Color = null };
            else if (rng.Chance(o.OmitKind)) specs[0] = specs[0] with { Kind = null };
        }
        else if (n == 2)
        {
            if (rng.Chance(o.Relation))
                relation = new RelationSpec(0, rng.Pick(AllRelations), 1);
            else if (rng.Chance(o.PairPositions))
            {
                bool horizontal = rng.Chance(0.5), flip = rng.Chance(0.5);
                var (a, b) = horizontal ? (ShapePosition.Left, ShapePosition.Right) : (ShapePosition.Top, ShapePosition.Bottom);
                if (flip) (a, b) = (b, a);
                objects[0].Position = a;
                objects[1].Position = b;
                specs[0] = specs[0] with { Position = a };
                specs[1] = specs[1] with { Position = b };
            }
        }
        return (new SceneSpec(specs, relation), objects);
    }

    private static SceneObject[]? Place(ShapesRandom rng, SceneSpec spec,
        (ShapeKind Kind, ShapeColor Color, ShapeSize Size, ShapePosition Position)[] objects)
    {
        for (int attempt = 0; attempt < 200; attempt++)
        {
            var placed = new SceneObject[objects.Length];
            bool ok = true;
            for (int k = 0; k < objects.Length && ok; k++)
            {
                var (kind, color, size, position) = objects[k];
                var (smin, smax) = ShapeLayout.ScaleRange(size);
                double scale = rng.NextDouble(smin, smax);
                var (hw, hh) = ShapeLayout.HalfExtent(kind, scale);
                var (xlo, xhi, ylo, yhi) = CentreRange(position, hw, hh);
                var candidate = new SceneObject(kind, color, size, rng.NextDouble(xlo, xhi), rng.NextDouble(ylo, yhi), scale);
                for (int m = 0; m < k && ok; m++) ok = Apart(placed[m], candidate);
                placed[k] = candidate;
            }
            if (ok && spec.Relation is { } rel && !ClearRelation(rel.Relation, placed[rel.Subject], placed[rel.Object])) ok = false;
            if (ok) return placed;
        }
        return null;
    }

    /// <summary>The range of bounding-box centres that keep the object inside the canvas and at the asked position.</summary>
    private static (double XLo, double XHi, double YLo, double YHi) CentreRange(ShapePosition position, double hw, double hh)
    {
        double third = Canvas / 3;
        double xlo = Border + hw, xhi = Canvas - Border - hw, ylo = Border + hh, yhi = Canvas - Border - hh;
        (double Lo, double Hi) left = (xlo, third - ThirdMargin), right = (2 * third + ThirdMargin, xhi);
        (double Lo, double Hi) middle = (third + ThirdMargin, 2 * third - ThirdMargin);
        (double Lo, double Hi) top = (ylo, third - ThirdMargin), bottom = (2 * third + ThirdMargin, yhi);
        return position switch
        {
            ShapePosition.Left => (left.Lo, left.Hi, middle.Lo, middle.Hi),
            ShapePosition.Right => (right.Lo, right.Hi, middle.Lo, middle.Hi),
            ShapePosition.Top => (middle.Lo, middle.Hi, top.Lo, top.Hi),
            ShapePosition.Bottom => (middle.Lo, middle.Hi, bottom.Lo, bottom.Hi),
            ShapePosition.Centre => (middle.Lo, middle.Hi, middle.Lo, middle.Hi),
            _ => (xlo, xhi, ylo, yhi),
        };
    }

    private static bool Apart(SceneObject a, SceneObject b)
    {
        var (al, at, ar, ab) = a.Bounds;
        var (bl, bt, br, bb) = b.Bounds;
        return ar + Gap <= bl || br + Gap <= al || ab + Gap <= bt || bb + Gap <= at;
    }

    /// <summary>The relation holds with a clear margin: at least 6 px along its axis, and more along it than across it.</summary>
    private static bool ClearRelation(ShapeRelation relation, SceneObject a, SceneObject b)
    {
        double dx = b.CenterX - a.CenterX, dy = b.CenterY - a.CenterY;
        return relation switch
        {
            ShapeRelation.Above => dy >= 6 && dy > Math.Abs(dx),
            ShapeRelation.Below => -dy >= 6 && -dy > Math.Abs(dx),
            ShapeRelation.LeftOf => dx >= 6 && dx > Math.Abs(dy),
            ShapeRelation.RightOf => -dx >= 6 && -dx > Math.Abs(dy),
            _ => false,
        };
    }
}
