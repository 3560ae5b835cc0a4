using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Easel.Inference.Shapes;

/// <summary>
/// Rasterizes a <see cref="Scene"/> to 64×64 RGB (bytes, row-major, HWC). Anti-aliased: squares by exact area
/// coverage, circles, rings, triangles and stars by 4×4 supersampling of the pixels their edges cross. Deterministic: the
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
        var shape = new Outline(o);
        var (x0, y0, x1, y1) = shape.PixelBounds(0, 0, Size, Size);
        var c = o.Color.ToRgb();
        for (int y = y0; y <= y1; y++)
        {
            for (int x = x0; x <= x1; x++)
            {
                double a = shape.Coverage(x, y);
                if (a <= 0) continue;
                int p = 3 * (y * Size + x);
                rgb[p] = Blend(rgb[p], c.R, a);
                rgb[p + 1] = Blend(rgb[p + 1], c.G, a);
                rgb[p + 2] = Blend(rgb[p + 2], c.B, a);
            }
        }
    }

    /// <summary>The anti-aliased coverage map of one object over a window of the canvas (row-major, width × height).</summary>
    public static void RenderCoverage(SceneObject o, int left, int top, int width, int height, Span<float> destination)
    {
        destination[..(width * height)].Clear();
        var shape = new Outline(o);
        var (x0, y0, x1, y1) = shape.PixelBounds(left, top, width, height);
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++)
                destination[(y - top) * width + (x - left)] = (float)shape.Coverage(x, y);
    }

    private static byte Blend(byte under, byte over, double a) => (byte)Math.Round(under + (over - under) * a);

    /// <summary>
    /// A shape's outline, precomputed for coverage queries: squares by exact area, the others by 4×4 supersampling of
    /// the pixels their edge may cross (pixels surely inside or outside are decided from the pixel centre).
    /// </summary>
    private readonly struct Outline
    {
        private readonly ShapeKind _kind;
        private readonly double _cx, _cy, _l, _t, _r, _b;
        private readonly double _radius, _inner; // circle/ring/star outer radius; ring hole radius or star inner-pentagon inradius
        private readonly (double X, double Y)[]? _poly;
        private readonly (double A, double B, double C)[]? _edges;

        public Outline(SceneObject o)
        {
            _kind = o.Kind;
            (_l, _t, _r, _b) = o.Bounds;
            _cx = o.CenterX;
            _cy = o.CenterY;
            _radius = _inner = 0;
            _poly = null;
            _edges = null;
            switch (o.Kind)
            {
                case ShapeKind.Circle:
                    _radius = o.Scale;
                    break;
                case ShapeKind.Ring:
                    _radius = o.Scale;
                    _inner = ShapeLayout.RingInnerRatio * o.Scale;
                    break;
                case ShapeKind.Triangle:
                    _poly = ShapeLayout.Polygon(o.Kind, _cx, _cy, o.Scale);
                    _edges = EdgeLines(_poly);
                    break;
                case ShapeKind.Star:
                    _poly = ShapeLayout.Polygon(o.Kind, _cx, _cy, o.Scale);
                    _radius = ShapeLayout.StarOuter * o.Scale;
                    _cy = _poly[0].Y + _radius; // the star's own centre (below the bounding-box centre)
                    _inner = _radius * ShapeLayout.StarInnerRatio * Math.Cos(36 * Math.PI / 180);
                    break;
            }
        }

        public (int X0, int Y0, int X1, int Y1) PixelBounds(int left, int top, int width, int height) => (
            Math.Max(left, (int)Math.Floor(_l)), Math.Max(top, (int)Math.Floor(_t)),
            Math.Min(left + width - 1, (int)Math.Ceiling(_r)), Math.Min(top + height - 1, (int)Math.Ceiling(_b)));

        public double Coverage(int x, int y)
        {
            double px = x + 0.5, py = y + 0.5;
            switch (_kind)
            {
                case ShapeKind.Square:
                    return Overlap(x, _l, _r) * Overlap(y, _t, _b);
                case ShapeKind.Circle:
                {
                    double d = Math.Sqrt(Sq(px - _cx) + Sq(py - _cy));
                    if (d <= _radius - HalfDiagonal) return 1;
                    if (d >= _radius + HalfDiagonal) return 0;
                    break;
                }
                case ShapeKind.Ring:
                {
                    // Wholly inside the annulus, or wholly outside it (beyond the rim or inside the hole).
                    double d = Math.Sqrt(Sq(px - _cx) + Sq(py - _cy));
                    if (d >= _inner + HalfDiagonal && d <= _radius - HalfDiagonal) return 1;
                    if (d >= _radius + HalfDiagonal || d <= _inner - HalfDiagonal) return 0;
                    break;
                }
                case ShapeKind.Triangle:
                {
                    double m = MinSignedDistance(_edges!, px, py);
                    if (m >= HalfDiagonal) return 1;
                    if (m <= -HalfDiagonal) return 0;
                    break;
                }
                default:
                {
                    double d = Math.Sqrt(Sq(px - _cx) + Sq(py - _cy));
                    if (d >= _radius + HalfDiagonal) return 0;
                    if (d <= _inner - HalfDiagonal) return 1;
                    // Pixels whose centre is farther than half a diagonal from every edge are wholly in or out.
                    if (MinEdgeDistanceSq(_poly!, px, py) >= HalfDiagonal * HalfDiagonal) return InPolygon(_poly!, px, py) ? 1 : 0;
                    break;
                }
            }
            int n = 0;
            for (int j = 0; j < Sub; j++)
                for (int i = 0; i < Sub; i++)
                    if (Inside(x + (i + 0.5) / Sub, y + (j + 0.5) / Sub)) n++;
            return n / (double)(Sub * Sub);
        }

        private bool Inside(double px, double py) => _kind switch
        {
            ShapeKind.Circle => Sq(px - _cx) + Sq(py - _cy) <= _radius * _radius,
            ShapeKind.Ring => Sq(px - _cx) + Sq(py - _cy) is var d2 && d2 <= _radius * _radius && d2 > _inner * _inner,
            ShapeKind.Triangle => MinSignedDistance(_edges!, px, py) >= 0,
            _ => InPolygon(_poly!, px, py),
        };
    }

    private static double Sq(double v) => v * v;

    private static double Overlap(int pixel, double lo, double hi) => Math.Clamp(Math.Min(pixel + 1, hi) - Math.Max(pixel, lo), 0, 1);

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

    private static double MinEdgeDistanceSq((double X, double Y)[] poly, double x, double y)
    {
        double m = double.MaxValue;
        for (int i = 0, j = poly.Length - 1; i < poly.Length; j = i++)
        {
            var (ax, ay) = poly[j];
            var (bx, by) = poly[i];
            double ex = bx - ax, ey = by - ay;
            double t = Math.Clamp(((x - ax) * ex + (y - ay) * ey) / (ex * ex + ey * ey), 0, 1);
            m = Math.Min(m, Sq(ax + t * ex - x) + Sq(ay + t * ey - y));
        }
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

    /// <summary>Converts an HWC RGB byte image to CHW floats in [-1, 1] (the layout and range a VAE takes).</summary>
    public static void ToChwFloats(ReadOnlySpan<byte> rgb, Span<float> destination, int width = Size, int height = Size)
    {
        int plane = width * height;
        if (rgb.Length < plane * 3 || destination.Length < plane * 3)
            throw new ArgumentException($"Both buffers need {plane * 3} elements.");
        for (int i = 0; i < plane; i++)
            for (int c = 0; c < 3; c++)
                destination[c * plane + i] = rgb[3 * i + c] / 127.5f - 1f;
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
