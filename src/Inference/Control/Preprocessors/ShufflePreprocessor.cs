using Easel.Inference.Shapes;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Easel.Inference.Control.Preprocessors;

/// <summary>
/// A1111's content shuffle: the image resampled through a random smooth warp. Two fields of uniform noise on a grid of
/// (H/256 + 2) × (W/256 + 2) points, upsampled bicubically (OpenCV's kernel, a = −0.75) to the image padded by 256 on
/// every side and cropped back, stretched to [0, W−1] and [0, H−1]: output pixel p takes the input at (x(p), y(p)),
/// bilinearly. The noise comes from <see cref="PreprocessorParameters.Seed"/>, so the same seed gives the same map.
/// </summary>
public sealed class ShufflePreprocessor : IControlPreprocessor
{
    /// <summary>The noise grid's spacing in pixels (A1111's <c>f</c>).</summary>
    public const int Spacing = 256;

    private const double CubicA = -0.75;

    public string Name => "shuffle";

    public IReadOnlyList<PreprocessorParameter> Parameters { get; } = [PreprocessorParameter.Seed];

    public Image<Rgb24> Apply(Image<Rgb24> image, PreprocessorParameters parameters)
    {
        int width = image.Width, height = image.Height;
        var random = new ShapesRandom(unchecked((ulong)parameters.Seed));
        var sourceX = SmoothNoise(random, width, height);
        var sourceY = SmoothNoise(random, width, height);
        var rgb = RgbPlanes.Read(image);
        var result = new byte[rgb.Length];
        for (var i = 0; i < width * height; i++)
        {
            double x = sourceX[i] * (width - 1), y = sourceY[i] * (height - 1);
            int x0 = (int)Math.Floor(x), y0 = (int)Math.Floor(y);
            int x1 = Math.Min(x0 + 1, width - 1), y1 = Math.Min(y0 + 1, height - 1);
            double fx = x - x0, fy = y - y0;
            for (var c = 0; c < 3; c++)
            {
                var top = rgb[(y0 * width + x0) * 3 + c] * (1 - fx) + rgb[(y0 * width + x1) * 3 + c] * fx;
                var bottom = rgb[(y1 * width + x0) * 3 + c] * (1 - fx) + rgb[(y1 * width + x1) * 3 + c] * fx;
                result[i * 3 + c] = (byte)Math.Clamp(Math.Round(top * (1 - fy) + bottom * fy), 0, 255);
            }
        }
        return RgbPlanes.FromRgb(result, width, height);
    }

    /// <summary>One noise field over the image, smooth at the grid spacing, min-max normalised to [0, 1].</summary>
    private static double[] SmoothNoise(ShapesRandom random, int width, int height)
    {
        int columns = width / Spacing + 2, rows = height / Spacing + 2;
        var grid = new double[rows * columns];
        for (var i = 0; i < grid.Length; i++)
            grid[i] = random.NextDouble();

        var (columnIndex, columnWeight) = CubicTaps(columns, width + 2 * Spacing, Spacing, width);
        var (rowIndex, rowWeight) = CubicTaps(rows, height + 2 * Spacing, Spacing, height);
        var horizontal = new double[rows * width];
        for (var r = 0; r < rows; r++)
            for (var x = 0; x < width; x++)
                for (var k = 0; k < 4; k++)
                    horizontal[r * width + x] += columnWeight[x, k] * grid[r * columns + columnIndex[x, k]];
        var noise = new double[width * height];
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
                for (var k = 0; k < 4; k++)
                    noise[y * width + x] += rowWeight[y, k] * horizontal[rowIndex[y, k] * width + x];

        double min = noise.Min(), max = noise.Max();
        for (var i = 0; i < noise.Length; i++)
            noise[i] = max > min ? (noise[i] - min) / (max - min) : 0;
        return noise;
    }

    /// <summary>
    /// The four source taps and weights of cv2.resize's bicubic for the output positions offset … offset+count of a
    /// resize from <paramref name="source"/> to <paramref name="target"/> samples (pixel centres aligned, indices clamped).
    /// </summary>
    private static (int[,] Index, double[,] Weight) CubicTaps(int source, int target, int offset, int count)
    {
        var index = new int[count, 4];
        var weight = new double[count, 4];
        var scale = (double)source / target;
        for (var d = 0; d < count; d++)
        {
            var position = (d + offset + 0.5) * scale - 0.5;
            var floor = (int)Math.Floor(position);
            var t = position - floor;
            var w0 = ((CubicA * (t + 1) - 5 * CubicA) * (t + 1) + 8 * CubicA) * (t + 1) - 4 * CubicA;
            var w1 = ((CubicA + 2) * t - (CubicA + 3)) * t * t + 1;
            var w2 = ((CubicA + 2) * (1 - t) - (CubicA + 3)) * (1 - t) * (1 - t) + 1;
            double[] w = [w0, w1, w2, 1 - w0 - w1 - w2];
            for (var k = 0; k < 4; k++)
            {
                index[d, k] = Math.Clamp(floor - 1 + k, 0, source - 1);
                weight[d, k] = w[k];
            }
        }
        return (index, weight);
    }
}
