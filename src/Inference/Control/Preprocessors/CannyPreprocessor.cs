using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Easel.Inference.Control.Preprocessors;

/// <summary>
/// Canny edges, white on black, as cv2.Canny (which A1111's canny preprocessor calls on the RGB image): 3×3 Sobel with
/// replicated borders on each channel, per pixel the channel of largest L1 magnitude |gx| + |gy|, non-maximum
/// suppression across the gradient direction quantised to 0°, 45°, 90°, 135°, then hysteresis: pixels above
/// <see cref="PreprocessorParameters.HighThreshold"/> are edges, and so are pixels above the low threshold 8-connected to
/// them. cv2.Canny smooths nothing first; <see cref="PreprocessorParameters.BlurSigma"/> &gt; 0 adds the Gaussian
/// smoothing of the textbook algorithm.
/// </summary>
public sealed class CannyPreprocessor : IControlPreprocessor
{
    /// <summary>The largest L1 Sobel magnitude of 8-bit values (4·255 in each direction): higher thresholds find nothing.</summary>
    public const double MaxThreshold = 2040;

    /// <summary>tan 22.5°: the gradient sectors of the non-maximum suppression (cv2.Canny's TG22).</summary>
    private const double Tan22 = 0.4142135623730950488;

    public string Name => "canny";

    public IReadOnlyList<PreprocessorParameter> Parameters { get; } =
        [PreprocessorParameter.LowThreshold, PreprocessorParameter.HighThreshold, PreprocessorParameter.BlurSigma];

    public Image<Rgb24> Apply(Image<Rgb24> image, PreprocessorParameters parameters) =>
        RgbPlanes.FromMask(Detect(image, parameters), image.Width, image.Height);

    /// <summary>The edge mask, row-major.</summary>
    public static bool[] Detect(Image<Rgb24> image, PreprocessorParameters parameters)
    {
        var (low, high) = (parameters.LowThreshold, parameters.HighThreshold);
        if (low > high)
            throw new ArgumentOutOfRangeException(nameof(parameters), $"The low threshold {low} is above the high threshold {high}.");
        int width = image.Width, height = image.Height;
        var rgb = RgbPlanes.Read(image);
        var magnitude = new float[width * height];
        var dx = new float[width * height];
        var dy = new float[width * height];
        for (var c = 0; c < 3; c++)
        {
            var plane = RgbPlanes.Channel(rgb, c);
            if (parameters.BlurSigma > 0)
                plane = GaussianBlur.Apply(plane, width, height, parameters.BlurSigma);
            for (var y = 0; y < height; y++)
            {
                int up = Math.Max(y - 1, 0) * width, row = y * width, down = Math.Min(y + 1, height - 1) * width;
                for (var x = 0; x < width; x++)
                {
                    int left = Math.Max(x - 1, 0), right = Math.Min(x + 1, width - 1);
                    var gx = plane[up + right] + 2 * plane[row + right] + plane[down + right]
                             - plane[up + left] - 2 * plane[row + left] - plane[down + left];
                    var gy = plane[down + left] + 2 * plane[down + x] + plane[down + right]
                             - plane[up + left] - 2 * plane[up + x] - plane[up + right];
                    var m = Math.Abs(gx) + Math.Abs(gy);
                    // The first channel wins ties, as in cv2.Canny.
                    if (c == 0 || m > magnitude[row + x])
                        (magnitude[row + x], dx[row + x], dy[row + x]) = (m, gx, gy);
                }
            }
        }

        float At(int x, int y) => x < 0 || y < 0 || x >= width || y >= height ? 0 : magnitude[y * width + x];
        var strong = new bool[width * height];
        var weak = new bool[width * height];
        var stack = new Stack<int>();
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var i = y * width + x;
                var m = magnitude[i];
                if (m <= low)
                    continue;
                double ax = Math.Abs(dx[i]), ay = Math.Abs(dy[i]);
                bool isMaximum;
                if (ay < ax * Tan22)
                    isMaximum = m > At(x - 1, y) && m >= At(x + 1, y);
                else if (ay > ax * (Tan22 + 2))
                    isMaximum = m > At(x, y - 1) && m >= At(x, y + 1);
                else
                {
                    var s = (dx[i] < 0) != (dy[i] < 0) ? -1 : 1;
                    isMaximum = m > At(x - s, y - 1) && m > At(x + s, y + 1);
                }
                if (!isMaximum)
                    continue;
                if (m > high)
                {
                    strong[i] = true;
                    stack.Push(i);
                }
                else
                    weak[i] = true;
            }
        }

        while (stack.TryPop(out var i))
        {
            int x = i % width, y = i / width;
            for (var ny = Math.Max(y - 1, 0); ny <= Math.Min(y + 1, height - 1); ny++)
                for (var nx = Math.Max(x - 1, 0); nx <= Math.Min(x + 1, width - 1); nx++)
                {
                    var n = ny * width + nx;
                    if (weak[n] && !strong[n])
                    {
                        strong[n] = true;
                        stack.Push(n);
                    }
                }
        }
        return strong;
    }
}
