using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Easel.Inference.Control.Preprocessors;

/// <summary>The image as it is: for maps the user brings (depth, pose, segmentation, normals).</summary>
public sealed class NonePreprocessor : IControlPreprocessor
{
    public string Name => "none";

    public IReadOnlyList<PreprocessorParameter> Parameters { get; } = [];

    public Image<Rgb24> Apply(Image<Rgb24> image, PreprocessorParameters parameters) => image.Clone();
}
