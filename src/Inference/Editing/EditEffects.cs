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
}
