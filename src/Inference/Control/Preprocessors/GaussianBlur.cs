namespace Easel.Inference.Control.Preprocessors;

/// <summary>
/// Separable Gaussian blur of a row-major float plane, with a kernel of radius round(4σ) and mirrored borders without
/// repeating the edge pixel (OpenCV's default BORDER_REFLECT_101, which cv2.GaussianBlur in A1111's preprocessors uses).
/// </summary>
internal static class GaussianBlur
{
    public static float[] Apply(float[] plane, int width, int height, double sigma)
    {
        var radius = Math.Max(1, (int)Math.Round(4 * sigma));
        var kernel = new float[2 * radius + 1];
        double sum = 0;
        for (var i = -radius; i <= radius; i++)
            sum += kernel[i + radius] = (float)Math.Exp(-i * i / (2 * sigma * sigma));
        for (var i = 0; i < kernel.Length; i++)
            kernel[i] /= (float)sum;

        var rows = new float[plane.Length];
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                float v = 0;
                for (var k = -radius; k <= radius; k++)
                    v += kernel[k + radius] * plane[y * width + Reflect(x + k, width)];
                rows[y * width + x] = v;
            }
        var result = new float[plane.Length];
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                float v = 0;
                for (var k = -radius; k <= radius; k++)
                    v += kernel[k + radius] * rows[Reflect(y + k, height) * width + x];
                result[y * width + x] = v;
            }
        return result;
    }

    private static int Reflect(int i, int n)
    {
        if (n == 1)
            return 0;
        while (i < 0 || i >= n)
            i = i < 0 ? -i : 2 * n - 2 - i;
        return i;
    }
}
