using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Easel.Inference.Control.Preprocessors;

/// <summary>
/// The T2I-Adapter colour palette (A1111's color preprocessor): the image averaged over cells of an eighth of its short
/// side (exact area weights where a cell boundary cuts a pixel), then each pixel given its cell's colour (nearest-neighbour
/// upsampling to the original size). A1111 first resizes the image to a short side of 512 (its processor resolution) and
/// cuts it into 64-pixel cells, so this is its cell grid at any size: 64-pixel cells at 512, and the 8-pixel cells the
/// bundled colour adapter was trained on at 64.
/// </summary>
public sealed class ColorPreprocessor : IControlPreprocessor
{
    /// <summary>Cells along the short side: A1111's 512-pixel processor resolution over its 64-pixel cells.</summary>
    public const int CellsPerShortSide = 8;

    public string Name => "color";

    public IReadOnlyList<PreprocessorParameter> Parameters { get; } = [];

    public Image<Rgb24> Apply(Image<Rgb24> image, PreprocessorParameters parameters)
    {
        int width = image.Width, height = image.Height;
        var cellSize = (double)Math.Min(width, height) / CellsPerShortSide;
        int columns = Math.Max(1, (int)(width / cellSize)), rows = Math.Max(1, (int)(height / cellSize));
        var rgb = RgbPlanes.Read(image);
        var columnWeights = AreaWeights(width, columns);
        var rowWeights = AreaWeights(height, rows);
        var cells = new double[rows * columns * 3];
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
                foreach (var (row, wy) in rowWeights[y])
                    foreach (var (column, wx) in columnWeights[x])
                        for (var c = 0; c < 3; c++)
                            cells[(row * columns + column) * 3 + c] += wx * wy * rgb[(y * width + x) * 3 + c];

        var result = new byte[rgb.Length];
        for (var y = 0; y < height; y++)
        {
            var row = (int)((long)y * rows / height);
            for (var x = 0; x < width; x++)
            {
                var cell = (row * columns + (int)((long)x * columns / width)) * 3;
                for (var c = 0; c < 3; c++)
                    result[(y * width + x) * 3 + c] = (byte)Math.Clamp(Math.Round(cells[cell + c]), 0, 255);
            }
        }
        return RgbPlanes.FromRgb(result, width, height);
    }

    /// <summary>
    /// For each source pixel, the cells it falls in and its share of each cell's mean: a cell spans size/cells pixels,
    /// so a pixel's weight is the part of it inside the cell divided by that span.
    /// </summary>
    private static List<(int Cell, double Weight)>[] AreaWeights(int size, int cells)
    {
        var span = (double)size / cells;
        var weights = new List<(int, double)>[size];
        for (var p = 0; p < size; p++)
        {
            weights[p] = [];
            for (var cell = (int)(p / span); cell < cells && cell * span < p + 1; cell++)
            {
                var overlap = Math.Min(p + 1, (cell + 1) * span) - Math.Max(p, cell * span);
                if (overlap > 0)
                    weights[p].Add((cell, overlap / span));
            }
        }
        return weights;
    }
}
