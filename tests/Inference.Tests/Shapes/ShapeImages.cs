using Easel.Inference.Shapes;

namespace Easel.Inference.Tests.Shapes;

/// <summary>Degradations that stand in for a model's imperfect output.</summary>
internal static class ShapeImages
{
    /// <summary>
    /// Adds seeded, nearly Gaussian noise of standard deviation <paramref name="sigma"/> (0–255 units): the centred sum of
    /// four uniforms (Irwin–Hall), which is cheaper than Box–Muller and close enough for a robustness test.
    /// </summary>
    public static byte[] AddNoise(byte[] rgb, double sigma, ulong seed)
    {
        var rng = new ShapesRandom(seed);
        var result = new byte[rgb.Length];
        double scale = sigma * Math.Sqrt(3) / 65536.0; // Var(sum of 4 U(0,1)) = 1/3
        for (int i = 0; i < rgb.Length; i++)
        {
            ulong u = rng.NextUInt64(); // four 16-bit uniforms from one draw
            double sum = (u & 0xFFFF) + ((u >> 16) & 0xFFFF) + ((u >> 32) & 0xFFFF) + (u >> 48) - 2 * 65535.0;
            result[i] = (byte)Math.Clamp(Math.Round(rgb[i] + scale * sum), 0, 255);
        }
        return result;
    }

    /// <summary>A 3×3 box blur (edges clamped).</summary>
    public static byte[] BoxBlur3(byte[] rgb, int size = 64)
    {
        var result = new byte[rgb.Length];
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
                for (int c = 0; c < 3; c++)
                {
                    int sum = 0;
                    for (int dy = -1; dy <= 1; dy++)
                        for (int dx = -1; dx <= 1; dx++)
                        {
                            int qx = Math.Clamp(x + dx, 0, size - 1), qy = Math.Clamp(y + dy, 0, size - 1);
                            sum += rgb[3 * (qy * size + qx) + c];
                        }
                    result[3 * (y * size + x) + c] = (byte)((sum + 4) / 9);
                }
        return result;
    }
}
