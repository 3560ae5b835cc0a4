using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Easel.Inference.Control.Preprocessors;

/// <summary>
/// Thick binarised edges, white on black, like A1111's scribble_hed. The edge detector is this folder's Canny (with the
/// request's thresholds) in place of the HED network, whose thin maxima it already gives; then A1111's thickening:
/// a Gaussian blur of σ = 3 and every pixel above 4 (of 255) becomes white, which makes lines about 12 px wide.
/// </summary>
public sealed class ScribblePreprocessor : IControlPreprocessor
{
    private const double ThickeningSigma = 3;
    private const float ThickeningThreshold = 4;

    public string Name => "scribble";

    public IReadOnlyList<PreprocessorParameter> Parameters { get; } =
        [PreprocessorParameter.LowThreshold, PreprocessorParameter.HighThreshold, PreprocessorParameter.BlurSigma];

    public Image<Rgb24> Apply(Image<Rgb24> image, PreprocessorParameters parameters)
    {
        var edges = CannyPreprocessor.Detect(image, parameters);
        var plane = new float[edges.Length];
        for (var i = 0; i < edges.Length; i++)
            plane[i] = edges[i] ? 255 : 0;
        var blurred = GaussianBlur.Apply(plane, image.Width, image.Height, ThickeningSigma);
        var thick = new bool[edges.Length];
        for (var i = 0; i < thick.Length; i++)
            thick[i] = MathF.Round(blurred[i]) > ThickeningThreshold;
        return RgbPlanes.FromMask(thick, image.Width, image.Height);
    }
}
