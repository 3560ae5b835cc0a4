using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Easel.Inference.Control.Preprocessors;

/// <summary>255 − each channel: turns a black-on-white drawing into the white-on-black map line ControlNets take (A1111's invert).</summary>
public sealed class InvertPreprocessor : IControlPreprocessor
{
    public string Name => "invert";

    public IReadOnlyList<PreprocessorParameter> Parameters { get; } = [];

    public Image<Rgb24> Apply(Image<Rgb24> image, PreprocessorParameters parameters)
    {
        var rgb = RgbPlanes.Read(image);
        for (var i = 0; i < rgb.Length; i++)
            rgb[i] = (byte)(255 - rgb[i]);
        return RgbPlanes.FromRgb(rgb, image.Width, image.Height);
    }
}
