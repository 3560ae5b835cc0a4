using Easel.Inference.Pipelines;
using static TorchSharp.torch;

namespace Easel.Inference.Control.Preprocessors;

/// <summary>A control unit's map from the user's image: fitted to the output size, then preprocessed (as POST /v1/preprocess with width and height).</summary>
public static class ControlMap
{
    /// <param name="rgb">The user's image, 8-bit RGB, row-major, <paramref name="sourceHeight"/> × <paramref name="sourceWidth"/> × 3.</param>
    public static InputImage From(byte[] rgb, int sourceWidth, int sourceHeight, int width, int height, ControlResizeMode resizeMode,
        IControlPreprocessor preprocessor, PreprocessorParameters parameters)
    {
        using var image = RgbPlanes.FromRgb(rgb, sourceWidth, sourceHeight);
        using var sized = ControlImageResize.Apply(image, width, height, resizeMode);
        using var map = preprocessor.Apply(sized, parameters);
        return InputImage.FromRgb(width, height, RgbPlanes.Read(map));
    }

    /// <summary>A map as the (1, C, H, W) float32 tensor in [0, 1] a model with <paramref name="channels"/> input channels takes (1: luminance).</summary>
    public static Tensor ToTensor(InputImage map, int channels) =>
        channels == 1 ? map.ToGrayTensor(CPU) : map.ToRgbTensor(CPU);
}
