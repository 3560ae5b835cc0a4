using Easel.Inference.Shapes;

namespace Easel.Inference.Tests.Shapes;

/// <summary>Degradations that stand in for a model's imperfect output.</summary>
internal static class ShapeImages
{
    /// <summary>Adds seeded Gaussian noise of standard deviation <paramref name="sigma"/> (in 0–255 units).</summary>
    public static byte[] AddNoise(byte[] rgb, double sigma, ulong seed)
    {
        var rng = new ShapesRandom(seed);
        var result = new byte[rgb.Length];
        for (int i = 0; i < rgb.Length; i++)
            result[i] = (byte)Math.Clamp(Math.Round(rgb[i] + sigma * rng.NextGaussian()), 0, 255);
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
