using Easel.Inference.Shapes;

namespace Easel.Inference.Editing;

/// <summary>The measures of what an edit kept, shared by the editing eval and the tests.</summary>
public static class EditEffects
{
    /// <summary>
    /// PSNR (dB, peak 255) between two RGB images of the same size over the pixels where <paramref name="counted"/> holds;
    /// +∞ when they are equal there.
    /// </summary>
    /// <param name="counted">Per pixel (height × width), whether it is measured.</param>
    public static double Psnr(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, ReadOnlySpan<bool> counted)
    {
        if (a.Length != b.Length || a.Length != 3 * counted.Length)
            throw new ArgumentException($"PSNR needs two RGB images of {counted.Length} pixels; got {a.Length} and {b.Length} bytes.");
        double squares = 0;
        long values = 0;
        for (var i = 0; i < a.Length; i++)
        {
            if (!counted[i / 3])
                continue;
            var d = a[i] - b[i];
            squares += d * d;
            values++;
        }
        if (values == 0)
            throw new ArgumentException("PSNR over no pixels.");
        return squares == 0 ? double.PositiveInfinity : 10 * Math.Log10(255.0 * 255.0 / (squares / values));
    }

    /// <summary>The pixels (height × width) outside a grey mask (below 128): what an edit must keep.</summary>
    public static bool[] Outside(ReadOnlySpan<byte> grayMask)
    {
        var outside = new bool[grayMask.Length];
        for (var i = 0; i < grayMask.Length; i++)
            outside[i] = grayMask[i] < 128;
        return outside;
    }

    /// <summary>Whether the judge finds an object of <paramref name="colour"/> and <paramref name="kind"/> centred inside <paramref name="box"/>.</summary>
    public static bool EditedAsAsked(ReadOnlySpan<byte> rgb, (double Left, double Top, double Right, double Bottom) box, ShapeColor colour, ShapeKind kind) =>
        ShapeJudge.Default.Analyze(rgb).Objects.Any(d => d.Color == colour && d.Kind == kind
            && d.CenterX >= box.Left && d.CenterX < box.Right && d.CenterY >= box.Top && d.CenterY < box.Bottom);

    /// <summary>A grey mask (255 inside) of <paramref name="box"/> grown by <paramref name="margin"/> pixels on the 64×64 canvas.</summary>
    public static byte[] BoxMask((double Left, double Top, double Right, double Bottom) box, double margin)
    {
        const int size = Scene.CanvasSize;
        var mask = new byte[size * size];
        for (var y = 0; y < size; y++)
            for (var x = 0; x < size; x++)
                mask[y * size + x] = x + 0.5 >= box.Left - margin && x + 0.5 < box.Right + margin && y + 0.5 >= box.Top - margin && y + 0.5 < box.Bottom + margin
                    ? (byte)255 : (byte)0;
        return mask;
    }

    /// <summary>
    /// IoU of the two images' foregrounds: the pixels farther than <paramref name="distance"/> (RGB Euclidean) from the
    /// background colour the judge finds in each image. An edit that keeps the layout keeps the foreground in place.
    /// </summary>
    public static double ForegroundIou(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, double distance = 48)
    {
        var (fa, fb) = (Foreground(a, distance), Foreground(b, distance));
        var (both, either) = (0, 0);
        for (var i = 0; i < fa.Length; i++)
        {
            both += fa[i] && fb[i] ? 1 : 0;
            either += fa[i] || fb[i] ? 1 : 0;
        }
        return either == 0 ? 1 : (double)both / either;
    }

    private static bool[] Foreground(ReadOnlySpan<byte> rgb, double distance)
    {
        var background = ShapeJudge.Default.Analyze(rgb).Background;
        var foreground = new bool[rgb.Length / 3];
        for (var i = 0; i < foreground.Length; i++)
        {
            double dr = rgb[3 * i] - background.R, dg = rgb[3 * i + 1] - background.G, db = rgb[3 * i + 2] - background.B;
            foreground[i] = dr * dr + dg * dg + db * db > distance * distance;
        }
        return foreground;
    }
}
