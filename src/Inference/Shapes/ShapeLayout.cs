namespace Easel.Inference.Shapes;

/// <summary>
/// The geometry shared by the renderer, the generator and the judge: shape outlines relative to their scale, the
/// scale ranges of the size classes, and the thirds that define positions.
/// </summary>
public static class ShapeLayout
{
    /// <summary>Scale range of <see cref="ShapeSize.Small"/> objects (bounding extent ≈ 9–15 px).</summary>
    public const double SmallMin = 5.0, SmallMax = 7.5;

    /// <summary>Scale range of <see cref="ShapeSize.Large"/> objects (bounding extent ≈ 18.5–28 px).</summary>
    public const double LargeMin = 10.5, LargeMax = 14.0;

    /// <summary>
    /// The judge calls an object large when its fitted scale is at least this: midway between the classes, so a scale
    /// misjudged by up to ~15 % (blur, a washed-out colour) keeps its class.
    /// </summary>
    public const double LargeScaleThreshold = 8.75;

    /// <summary>Half side of a square relative to scale (so its area is close to a circle's of the same scale).</summary>
    public const double SquareHalf = 0.88;

    /// <summary>Circumradius of a triangle relative to scale.</summary>
    public const double TriangleRadius = 1.15;

    /// <summary>Outer radius of a star relative to scale, and inner radius relative to outer radius.</summary>
    public const double StarOuter = 1.05, StarInnerRatio = 0.45;

    /// <summary>Hole radius of a ring relative to its outer radius (= scale): the hole is half the outer diameter.</summary>
    public const double RingInnerRatio = 0.5;

    private static readonly double Sin60 = Math.Sqrt(3) / 2, Sin72 = Math.Sin(72 * Math.PI / 180), Cos36 = Math.Cos(36 * Math.PI / 180);

    /// <summary>Half width and half height of a shape's bounding box.</summary>
    public static (double HalfWidth, double HalfHeight) HalfExtent(ShapeKind kind, double scale) => kind switch
    {
        ShapeKind.Circle or ShapeKind.Ring => (scale, scale),
        ShapeKind.Square => (SquareHalf * scale, SquareHalf * scale),
        ShapeKind.Triangle => (TriangleRadius * scale * Sin60, 0.75 * TriangleRadius * scale),
        ShapeKind.Star => (StarOuter * scale * Sin72, StarOuter * scale * (1 + Cos36) / 2),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>Area of a shape in square pixels.</summary>
    public static double Area(ShapeKind kind, double scale) => scale * scale * kind switch
    {
        ShapeKind.Circle => Math.PI,
        ShapeKind.Square => 4 * SquareHalf * SquareHalf,
        ShapeKind.Triangle => 3 * Math.Sqrt(3) / 4 * TriangleRadius * TriangleRadius,
        ShapeKind.Star => 5 * StarOuter * StarOuter * StarInnerRatio * Math.Sin(36 * Math.PI / 180),
        ShapeKind.Ring => Math.PI * (1 - RingInnerRatio * RingInnerRatio),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>How far below the bounding-box centre a shape's centroid lies.</summary>
    public static double CentroidOffsetY(ShapeKind kind, double scale) => kind switch
    {
        ShapeKind.Triangle => TriangleRadius * scale / 4,
        ShapeKind.Star => StarOuter * scale * (1 - Cos36) / 2,
        _ => 0,
    };

    /// <summary>The polygon outline (clockwise in screen coordinates) of a triangle or star with bounding-box centre (cx, cy).</summary>
    public static (double X, double Y)[] Polygon(ShapeKind kind, double cx, double cy, double scale)
    {
        switch (kind)
        {
            case ShapeKind.Triangle:
            {
                double r = TriangleRadius * scale, oy = cy + r / 4; // circumcentre sits below the bbox centre
                return [(cx, oy - r), (cx + r * Sin60, oy + r / 2), (cx - r * Sin60, oy + r / 2)];
            }
            case ShapeKind.Star:
            {
                double r = StarOuter * scale, ri = r * StarInnerRatio, oy = cy + r * (1 - Cos36) / 2;
                var pts = new (double, double)[10];
                for (int k = 0; k < 10; k++)
                {
                    double a = (-90 + 36 * k) * Math.PI / 180, rr = k % 2 == 0 ? r : ri;
                    pts[k] = (cx + rr * Math.Cos(a), oy + rr * Math.Sin(a));
                }
                return pts;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), "Only triangles and stars are polygons.");
        }
    }

    /// <summary>The scale range of a size class.</summary>
    public static (double Min, double Max) ScaleRange(ShapeSize size) =>
        size == ShapeSize.Small ? (SmallMin, SmallMax) : (LargeMin, LargeMax);

    /// <summary>The size class of a scale.</summary>
    public static ShapeSize SizeOfScale(double scale) => scale >= LargeScaleThreshold ? ShapeSize.Large : ShapeSize.Small;

    /// <summary>
    /// Whether a point (an object's bounding-box centre) is at a position: left/right/top/bottom = x or y in the
    /// outer third on that side; centre = x and y both in the middle third; unspecified is always true.
    /// </summary>
    public static bool IsAt(ShapePosition position, double x, double y, double canvas = Scene.CanvasSize)
    {
        double t = canvas / 3, t2 = 2 * canvas / 3;
        return position switch
        {
            ShapePosition.Unspecified => true,
            ShapePosition.Left => x < t,
            ShapePosition.Right => x >= t2,
            ShapePosition.Top => y < t,
            ShapePosition.Bottom => y >= t2,
            ShapePosition.Centre => x >= t && x < t2 && y >= t && y < t2,
            _ => false,
        };
    }

    /// <summary>The single position word that best describes a point: centre when in the middle cell, else the side of the largest offset.</summary>
    public static ShapePosition Classify(double x, double y, double canvas = Scene.CanvasSize)
    {
        if (IsAt(ShapePosition.Centre, x, y, canvas)) return ShapePosition.Centre;
        double dx = x - canvas / 2, dy = y - canvas / 2;
        return Math.Abs(dx) >= Math.Abs(dy)
            ? (dx < 0 ? ShapePosition.Left : ShapePosition.Right)
            : (dy < 0 ? ShapePosition.Top : ShapePosition.Bottom);
    }

    /// <summary>Whether the relation holds between two bounding-box centres (with a 2 px dead zone).</summary>
    public static bool Holds(ShapeRelation relation, double ax, double ay, double bx, double by) => relation switch
    {
        ShapeRelation.Above => by - ay > 2,
        ShapeRelation.Below => ay - by > 2,
        ShapeRelation.LeftOf => bx - ax > 2,
        ShapeRelation.RightOf => ax - bx > 2,
        _ => false,
    };
}
