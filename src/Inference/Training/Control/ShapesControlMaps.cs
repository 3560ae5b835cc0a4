using Easel.Inference.Control.Preprocessors;
using Easel.Inference.Shapes;

namespace Easel.Inference.Training.Control;

/// <summary>
/// The conditions the bundled control models are trained on, computed from a rendered scene as a user gets them from
/// <c>POST /v1/preprocess</c> on a 64×64 image, so that what the service's preprocessors give is what the models know.
/// </summary>
public static class ShapesControlMaps
{
    /// <summary>Canny edges (the preprocessor's default thresholds), white on black, as three equal channels in [0, 1].</summary>
    public static void Edges(ReadOnlySpan<byte> rgb, Span<float> destination)
    {
        var mask = EdgeMask(rgb);
        var plane = mask.Length;
        for (var c = 0; c < 3; c++)
            for (var p = 0; p < plane; p++)
                destination[c * plane + p] = mask[p] ? 1f : 0f;
    }

    /// <summary>A 64×64 image's Canny edges (the preprocessor's default thresholds), row-major.</summary>
    public static bool[] EdgeMask(ReadOnlySpan<byte> rgb)
    {
        using var image = RgbPlanes.FromRgb(rgb.ToArray(), ShapeRenderer.Size, ShapeRenderer.Size);
        return CannyPreprocessor.Detect(image, PreprocessorParameters.Default);
    }

    /// <summary>The palette map's cell: 8×8 cells over the 64-pixel canvas.</summary>
    public const int PaletteCell = 8;

    /// <summary>
    /// The colour palette map: the scene averaged over 8×8-pixel cells, each pixel given its cell's mean, in [0, 1]: what
    /// the <c>color</c> preprocessor gives for a 64-pixel image (cells of an eighth of the short side), before 8-bit rounding.
    /// </summary>
    public static void Palette(ReadOnlySpan<byte> rgb, Span<float> destination)
    {
        const int size = ShapeRenderer.Size, cells = size / PaletteCell;
        var plane = size * size;
        Span<double> sums = stackalloc double[cells * cells * 3];
        for (var y = 0; y < size; y++)
            for (var x = 0; x < size; x++)
                for (var c = 0; c < 3; c++)
                    sums[((y / PaletteCell) * cells + x / PaletteCell) * 3 + c] += rgb[(y * size + x) * 3 + c];
        for (var y = 0; y < size; y++)
            for (var x = 0; x < size; x++)
                for (var c = 0; c < 3; c++)
                    destination[c * plane + y * size + x] =
                        (float)(sums[((y / PaletteCell) * cells + x / PaletteCell) * 3 + c] / (PaletteCell * PaletteCell * 255.0));
    }
}
