using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Easel.Inference.Shapes;

/// <summary>
/// Rasterizes a <see cref="Scene"/> to 64×64 RGB (bytes, row-major, HWC). Anti-aliased: squares by exact area
/// coverage, circles, triangles and stars by 4×4 supersampling of the pixels their edges cross. Deterministic: the
/// output depends only on the scene.
/// </summary>
public static class ShapeRenderer
{
    public const int Size = Scene.CanvasSize;
    private const int Sub = 4;
    private const double HalfDiagonal = 0.7072;

    /// <summary>Renders the scene into a new 64·64·3 byte array.</summary>
    public static byte[] Render(Scene scene)
    {
        var rgb = new byte[Size * Size * 3];
        Render(scene, rgb);
        return rgb;
    }

    /// <summary>Renders the scene into <paramref name="destination"/> (64·64·3 bytes, HWC).</summary>
    public static void Render(Scene scene, Span<byte> destination)
    {
        if (destination.Length < Size * Size * 3)
            throw new ArgumentException($"The destination needs {Size * Size * 3} bytes.", nameof(destination));
        var bg = scene.Background;
        for (int i = 0; i < Size * Size; i++)
        {
            destination[3 * i] = bg.R;
            destination[3 * i + 1] = bg.G;
            destination[3 * i + 2] = bg.B;
        }
        foreach (var o in scene.Objects)
            Draw(o, destination);
    }

    private static void Draw(SceneObject o, Span<byte> rgb)
    {
        var (l, t, r, b) = o.Bounds;
        int x0 = Math.Max(0, (int)Math.Floor(l)), x1 = Math.Min(Size - 1, (int)Math.Ceiling(r));
        int y0 = Math.Max(0, (int)Math.Floor(t)), y1 = Math.Min(Size - 1, (int)Math.Ceiling(b));
        var c = o.Color.ToRgb();
        var coverage = CoverageFunction(o);
        for (int y = y0; y <= y1; y++)
        {
            for (int x = x0; x <= x1; x++)
            {
                double a = coverage(x, y);
                if (a <= 0) continue;
                int p = 3 * (y * Size + x);
                rgb[p] = Blend(rgb[p], c.R, a);
                rgb[p + 1] = Blend(rgb[p + 1], c.G, a);
                rgb[p + 2] = Blend(rgb[p + 2], c.B, a);
            }
        }
    }

    private static byte Blend(byte under, byte over, double a) => (byte)Math.Round(under + (over - under) * a);

    /// <summary>The anti-aliased coverage map of one object over a window of the canvas (row-major, width × height).</summary>
    public static void RenderCoverage(SceneObject o, int left, int top, int width, int height, Span<float> destination)
    {
        destination[..(width * height)].Clear();
        var (l, t, r, b) = o.Bounds;
        int x0 = Math.Max(left, (int)Math.Floor(l)), x1 = Math.Min(left + width - 1, (int)Math.Ceiling(r));
        int y0 = Math.Max(top, (int)Math.Floor(t)), y1 = Math.Min(top + height - 1, (int)Math.Ceiling(b));
        var coverage = CoverageFunction(o);
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++)
                destination[(y - top) * width + (x - left)] = (float)coverage(x, y);
    }

    /// <summary>Coverage in [0, 1] of pixel (x, y) by the object.</summary>
    private static Func<int, int, double> CoverageFunction(SceneObject o)
    {
        double cx = o.CenterX, cy = o.CenterY;
        switch (o.Kind)
        {
            case ShapeKind.Square:
            {
                double h = ShapeLayout.SquareHalf * o.Scale;
                return (x, y) => Overlap(x, cx - h, cx + h) * Overlap(y, cy - h, cy + h);
            }
            case ShapeKind.Circle:
            {
                double r = o.Scale, r2 = r * r;
                return (x, y) =>
                {
                    double d = Math.Sqrt(Sq(x + 0.5 - cx) + Sq(y + 0.5 - cy));
                    if (d <= r - HalfDiagonal) return 1;
                    if (d >= r + HalfDiagonal) return 0;
                    return Supersample(x, y, (px, py) => Sq(px - cx) + Sq(py - cy) <= r2);
                };
            }
            case ShapeKind.Triangle:
            {
                var poly = ShapeLayout.Polygon(o.Kind, cx, cy, o.Scale);
                var edges = EdgeLines(poly);
                return (x, y) =>
                {
                    double m = MinSignedDistance(edges, x + 0.5, y + 0.5);
                    if (m >= HalfDiagonal) return 1;
                    if (m <= -HalfDiagonal) return 0;
                    return Supersample(x, y, (px, py) => MinSignedDistance(edges, px, py) >= 0);
                };
            }
            case ShapeKind.Star:
            {
                var poly = ShapeLayout.Polygon(o.Kind, cx, cy, o.Scale);
                double ox = poly[0].X, oy = poly[0].Y + ShapeLayout.StarOuter * o.Scale; // star centre
                double rOut = ShapeLayout.StarOuter * o.Scale;
                double rIn = rOut * ShapeLayout.StarInnerRatio * Math.Cos(36 * Math.PI / 180); // inner pentagon's inradius
                return (x, y) =>
                {
                    double d = Math.Sqrt(Sq(x + 0.5 - ox) + Sq(y + 0.5 - oy));
                    if (d >= rOut + HalfDiagonal) return 0;
                    if (d <= rIn - HalfDiagonal) return 1;
                    return Supersample(x, y, (px, py) => InPolygon(poly, px, py));
                };
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(o), $"Unknown shape kind {o.Kind}.");
        }
    }

    private static double Sq(double v) => v * v;

    private static double Overlap(int pixel, double lo, double hi) => Math.Clamp(Math.Min(pixel + 1, hi) - Math.Max(pixel, lo), 0, 1);

    private static double Supersample(int x, int y, Func<double, double, bool> inside)
    {
        int n = 0;
        for (int j = 0; j < Sub; j++)
            for (int i = 0; i < Sub; i++)
                if (inside(x + (i + 0.5) / Sub, y + (j + 0.5) / Sub)) n++;
        return n / (double)(Sub * Sub);
    }

    /// <summary>Unit-normal line equations (a, b, c) with a·x + b·y + c ≥ 0 inside a clockwise (screen) convex polygon.</summary>
    private static (double A, double B, double C)[] EdgeLines((double X, double Y)[] poly)
    {
        var lines = new (double, double, double)[poly.Length];
        for (int k = 0; k < poly.Length; k++)
        {
            var (px, py) = poly[k];
            var (qx, qy) = poly[(k + 1) % poly.Length];
            double ex = qx - px, ey = qy - py, len = Math.Sqrt(ex * ex + ey * ey);
            double a = -ey / len, b = ex / len; // inward normal for clockwise order in y-down coordinates
            lines[k] = (a, b, -(a * px + b * py));
        }
        return lines;
    }

    private static double MinSignedDistance((double A, double B, double C)[] lines, double x, double y)
    {
        double m = double.MaxValue;
        foreach (var (a, b, c) in lines) m = Math.Min(m, a * x + b * y + c);
        return m;
    }

    private static bool InPolygon((double X, double Y)[] poly, double x, double y)
    {
        bool inside = false;
        for (int i = 0, j = poly.Length - 1; i < poly.Length; j = i++)
        {
            var (xi, yi) = poly[i];
            var (xj, yj) = poly[j];
            if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) inside = !inside;
        }
        return inside;
    }

    /// <summary>Saves an HWC RGB byte buffer as PNG (for debugging and fixtures).</summary>
    public static void SavePng(ReadOnlySpan<byte> rgb, int width, int height, string path)
    {
        using var image = Image.LoadPixelData<Rgb24>(rgb[..(width * height * 3)], width, height);
        image.SaveAsPng(path);
    }

    /// <summary>Loads a PNG (or any format ImageSharp reads) as an HWC RGB byte buffer.</summary>
    public static byte[] LoadRgb(string path, out int width, out int height)
    {
        using var image = Image.Load<Rgb24>(path);
        width = image.Width;
        height = image.Height;
        var rgb = new byte[width * height * 3];
        image.CopyPixelDataTo(rgb);
        return rgb;
    }
}
