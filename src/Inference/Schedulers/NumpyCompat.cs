namespace Easel.Inference.Schedulers;

/// <summary>
/// The few numpy routines diffusers builds schedules with, reproduced operation for operation in
/// float64 (numpy's default) so that rounding matches: linspace, arange, rint (half to even), interp.
/// </summary>
internal static class NumpyCompat
{
    /// <summary>np.linspace: start + i·step, the last element set to stop when endpoint.</summary>
    public static double[] Linspace(double start, double stop, int num, bool endpoint = true)
    {
        var y = new double[num];
        var div = endpoint ? num - 1 : num;
        var delta = stop - start;
        if (div > 0)
        {
            var step = delta / div;
            for (var i = 0; i < num; i++)
                y[i] = step == 0 ? i / (double)div * delta + start : i * step + start;
        }
        else
        {
            for (var i = 0; i < num; i++)
                y[i] = i * delta + start;
        }
        if (endpoint && num > 1)
            y[num - 1] = stop;
        return y;
    }

    /// <summary>np.arange with a float step: ceil((stop - start) / step) values start + i·step.</summary>
    public static double[] Arange(double start, double stop, double step)
    {
        var n = Math.Max(0, (int)Math.Ceiling((stop - start) / step));
        var y = new double[n];
        for (var i = 0; i < n; i++)
            y[i] = start + i * step;
        return y;
    }

    /// <summary>np.round / np.rint: round half to even.</summary>
    public static double Round(double x) => Math.Round(x, MidpointRounding.ToEven);

    /// <summary>np.interp(x, arange(len(fp)), fp) as numpy's C kernel evaluates it.</summary>
    public static double Interp(double x, IReadOnlyList<double> fp)
    {
        var last = fp.Count - 1;
        if (double.IsNaN(x)) return x;
        if (x < 0) return fp[0];
        if (x >= last) return fp[last];
        var j = (int)Math.Floor(x);
        if (j == x) return fp[j];
        var slope = (fp[j + 1] - fp[j]) / 1.0;
        return slope * (x - j) + fp[j];
    }

    public static double[] Reverse(double[] a)
    {
        var r = (double[])a.Clone();
        Array.Reverse(r);
        return r;
    }
}
