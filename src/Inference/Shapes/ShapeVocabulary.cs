namespace Easel.Inference.Shapes;

/// <summary>
/// The kinds of shape the shapes world draws. Orientation is fixed (triangles and stars point up, squares are axis-aligned).
/// <see cref="Ring"/> came after the bundled model was trained and is opt-in (see <see cref="ShapeKinds"/>); new kinds go
/// at the end so existing ordinals, and everything seeded or hashed from them, stay put.
/// </summary>
public enum ShapeKind
{
    Circle,
    Square,
    Triangle,
    Star,
    Ring,
}

/// <summary>The object colours of the shapes world; RGB values are in <see cref="ShapePalette"/>.</summary>
public enum ShapeColor
{
    Red,
    Orange,
    Yellow,
    Green,
    Blue,
    Purple,
    White,
    Black,
}

/// <summary>Size classes. See <see cref="ShapeLayout"/> for the scale ranges and the judge's threshold.</summary>
public enum ShapeSize
{
    Small,
    Large,
}

/// <summary>Where an object is, by thirds of the canvas. <see cref="Unspecified"/> means a caption did not say.</summary>
public enum ShapePosition
{
    Unspecified,
    Left,
    Right,
    Top,
    Bottom,
    Centre,
}

/// <summary>A spatial relation between two objects of a caption ("a red star above a blue circle").</summary>
public enum ShapeRelation
{
    Above,
    Below,
    LeftOf,
    RightOf,
}

/// <summary>An 8-bit sRGB colour.</summary>
public readonly record struct Rgb(byte R, byte G, byte B)
{
    /// <summary>Euclidean distance in RGB space (0 … ≈441).</summary>
    public double DistanceTo(Rgb other)
    {
        int dr = R - other.R, dg = G - other.G, db = B - other.B;
        return Math.Sqrt(dr * dr + dg * dg + db * db);
    }

    public override string ToString() => $"#{R:X2}{G:X2}{B:X2}";
}

/// <summary>
/// The fixed colours of the shapes world. Object colours are far apart from each other (≥ 100 in RGB distance) and every
/// background is ≥ 95 away from every object colour, so the judge can segment by distance from the background and
/// classify by nearest palette colour.
/// </summary>
public static class ShapePalette
{
    private static readonly Rgb[] Objects =
    [
        new(220, 20, 20),   // red
        new(250, 130, 0),   // orange
        new(250, 230, 20),  // yellow
        new(20, 160, 40),   // green
        new(30, 70, 230),   // blue
        new(140, 40, 180),  // purple
        new(255, 255, 255), // white
        new(0, 0, 0),       // black
    ];

    /// <summary>The plain backgrounds a scene may have: mid grey, light grey, dark grey, beige.</summary>
    public static IReadOnlyList<Rgb> Backgrounds { get; } =
    [
        new(128, 128, 128),
        new(176, 176, 176),
        new(84, 84, 84),
        new(200, 190, 160),
    ];

    public static IReadOnlyList<ShapeColor> Colors { get; } = Enum.GetValues<ShapeColor>();

    public static Rgb ToRgb(this ShapeColor color) => Objects[(int)color];

    /// <summary>The palette colour nearest to (r, g, b), and its distance.</summary>
    public static (ShapeColor Color, double Distance) Nearest(double r, double g, double b)
    {
        var best = ShapeColor.Red;
        double bestD = double.MaxValue;
        for (int i = 0; i < Objects.Length; i++)
        {
            double dr = r - Objects[i].R, dg = g - Objects[i].G, db = b - Objects[i].B;
            double d = dr * dr + dg * dg + db * db;
            if (d < bestD)
            {
                bestD = d;
                best = (ShapeColor)i;
            }
        }
        return (best, Math.Sqrt(bestD));
    }
}
