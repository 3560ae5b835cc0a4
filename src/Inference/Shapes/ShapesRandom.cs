namespace Easel.Inference.Shapes;

/// <summary>
/// xoshiro256** seeded through SplitMix64: a small PRNG whose sequence is fixed by this file, so a seed means the same
/// scenes on every runtime (System.Random's algorithm is not part of its contract).
/// </summary>
public sealed class ShapesRandom
{
    private ulong _s0, _s1, _s2, _s3;

    public ShapesRandom(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);
    }

    /// <summary>A generator for item <paramref name="index"/> of stream <paramref name="seed"/>, independent of every other item.</summary>
    public static ShapesRandom ForItem(ulong seed, ulong index)
    {
        ulong x = seed ^ 0x5DEECE66DUL;
        ulong a = SplitMix64(ref x);
        x = a ^ (index * 0xD1B54A32D192ED03UL);
        return new ShapesRandom(SplitMix64(ref x));
    }

    public static ulong SplitMix64(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [min, max).</summary>
    public double NextDouble(double min, double max) => min + (max - min) * NextDouble();

    /// <summary>Uniform integer in [0, n) (Lemire's multiply-shift, bias below 2⁻³²for small n).</summary>
    public int NextInt(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        return (int)((UInt128)NextUInt64() * (ulong)n >> 64);
    }

    public bool Chance(double p) => NextDouble() < p;

    public T Pick<T>(IReadOnlyList<T> items) => items[NextInt(items.Count)];

    /// <summary>A standard normal sample (Box–Muller).</summary>
    public double NextGaussian()
    {
        double u1 = 1.0 - NextDouble(), u2 = NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
