using System.Diagnostics;

namespace Easel.Bench;

internal static class Timing
{
    /// <summary>Untimed runs before the timed ones of a model call (--warmup).</summary>
    public static int DefaultWarmup { get; set; } = 1;

    /// <summary>Median wall time in milliseconds of <paramref name="repeats"/> runs after <paramref name="warmup"/> untimed runs.</summary>
    public static double MedianMs(Action action, int warmup, int repeats)
    {
        for (var i = 0; i < warmup; i++)
            action();
        var times = new double[repeats];
        for (var i = 0; i < repeats; i++)
        {
            var watch = Stopwatch.StartNew();
            action();
            times[i] = watch.Elapsed.TotalMilliseconds;
        }
        Array.Sort(times);
        return times[repeats / 2];
    }
}
