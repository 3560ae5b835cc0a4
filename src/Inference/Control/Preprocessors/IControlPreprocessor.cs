using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Easel.Inference.Control.Preprocessors;

/// <summary>
/// Turns an RGB image into a control map (an RGB image of the same size) for ControlNet or T2I-Adapter. Plain C# on
/// ImageSharp, no TorchSharp, so that the API process can run it without loading libtorch.
/// </summary>
public interface IControlPreprocessor
{
    /// <summary>The name requests use (<c>canny</c>, <c>scribble</c>, …).</summary>
    string Name { get; }

    /// <summary>The parameters of <see cref="PreprocessorParameters"/> this preprocessor reads; the others are ignored.</summary>
    IReadOnlyList<PreprocessorParameter> Parameters { get; }

    /// <summary>The control map of <paramref name="image"/>, a new image of the same size.</summary>
    Image<Rgb24> Apply(Image<Rgb24> image, PreprocessorParameters parameters);
}
