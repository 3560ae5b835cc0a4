using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Easel.Inference.Control.Preprocessors;

/// <summary>
/// Line art, white lines on black: the polarity of every A1111 lineart preprocessor (they invert the black-on-white
/// drawing their networks output, the "auto inversion", because lineart ControlNets take white lines). The algorithm is
/// A1111's model-free lineart_standard: how much darker each pixel is than its Gaussian (σ = 6) surroundings, divided by
/// the median of the clearly dark values (those above 8, at least 16) and scaled so that the median line is 127. It
/// runs on the luminance (BT.601) instead of the per-channel minimum, so that a coloured shape on a coloured ground,
/// darker in some channels only, still gets its outline.
/// </summary>
public sealed class LineartPreprocessor : IControlPreprocessor
{
    private const double SurroundSigma = 6;
    private const float LineFloor = 8;
    private const float MinScale = 16;
    private const float MedianLine = 127;

    public string Name => "lineart";

    public IReadOnlyList<PreprocessorParameter> Parameters { get; } = [];

    public Image<Rgb24> Apply(Image<Rgb24> image, PreprocessorParameters parameters)
    {
        int width = image.Width, height = image.Height;
        var rgb = RgbPlanes.Read(image);
        var luminance = new float[width * height];
        for (var i = 0; i < luminance.Length; i++)
            luminance[i] = 0.299f * rgb[3 * i] + 0.587f * rgb[3 * i + 1] + 0.114f * rgb[3 * i + 2];
        var surround = GaussianBlur.Apply(luminance, width, height, SurroundSigma);
        var darkness = new float[luminance.Length];
        var lines = new List<float>();
        for (var i = 0; i < darkness.Length; i++)
        {
            darkness[i] = Math.Clamp(surround[i] - luminance[i], 0, 255);
            if (darkness[i] > LineFloor)
                lines.Add(darkness[i]);
        }
        var scale = Math.Max(MinScale, Median(lines));
        for (var i = 0; i < darkness.Length; i++)
            darkness[i] = MathF.Floor(Math.Clamp(darkness[i] / scale * MedianLine, 0, 255));
        return RgbPlanes.FromGray(darkness, width, height);
    }

    private static float Median(List<float> values)
    {
        if (values.Count == 0)
            return 0;
        values.Sort();
        var middle = values.Count / 2;
        return values.Count % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
    }
}
