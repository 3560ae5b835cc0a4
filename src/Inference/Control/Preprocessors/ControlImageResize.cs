using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace Easel.Inference.Control.Preprocessors;

/// <summary>Brings a control image to the output size before it is preprocessed (<see cref="ControlResizeMode"/>), with bicubic resampling.</summary>
public static class ControlImageResize
{
    /// <summary>The resize mode named <paramref name="name"/>: resize, crop or fill (case-insensitive).</summary>
    public static bool TryParse(string? name, out ControlResizeMode mode) =>
        Enum.TryParse(name?.Trim(), ignoreCase: true, out mode) && Enum.IsDefined(mode) && !int.TryParse(name, out _);

    /// <summary>A new image of <paramref name="width"/> × <paramref name="height"/>.</summary>
    public static Image<Rgb24> Apply(Image<Rgb24> image, int width, int height, ControlResizeMode mode)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        int w = image.Width, h = image.Height;
        if (mode == ControlResizeMode.Resize)
            return Scaled(image, width, height);

        var k = mode == ControlResizeMode.Crop ? Math.Max((double)width / w, (double)height / h) : Math.Min((double)width / w, (double)height / h);
        var scaledWidth = (int)Math.Round(w * k);
        var scaledHeight = (int)Math.Round(h * k);
        if (mode == ControlResizeMode.Crop)
        {
            (scaledWidth, scaledHeight) = (Math.Max(width, scaledWidth), Math.Max(height, scaledHeight));
            var scaled = Scaled(image, scaledWidth, scaledHeight);
            scaled.Mutate(x => x.Crop(new Rectangle((scaledWidth - width) / 2, (scaledHeight - height) / 2, width, height)));
            return scaled;
        }

        (scaledWidth, scaledHeight) = (Math.Clamp(scaledWidth, 1, width), Math.Clamp(scaledHeight, 1, height));
        var result = new Image<Rgb24>(width, height, BorderMedian(image));
        using var fitted = Scaled(image, scaledWidth, scaledHeight);
        result.Mutate(x => x.DrawImage(fitted, new Point((width - scaledWidth) / 2, (height - scaledHeight) / 2), 1f));
        return result;
    }

    private static Image<Rgb24> Scaled(Image<Rgb24> image, int width, int height) =>
        image.Width == width && image.Height == height
            ? image.Clone()
            : image.Clone(x => x.Resize(width, height, KnownResamplers.Bicubic));

    /// <summary>The per-channel median of the outermost rows and columns (A1111 fills with it).</summary>
    private static Rgb24 BorderMedian(Image<Rgb24> image)
    {
        var border = new List<Rgb24>();
        for (var x = 0; x < image.Width; x++)
        {
            border.Add(image[x, 0]);
            border.Add(image[x, image.Height - 1]);
        }
        for (var y = 0; y < image.Height; y++)
        {
            border.Add(image[0, y]);
            border.Add(image[image.Width - 1, y]);
        }
        byte Median(Func<Rgb24, byte> channel)
        {
            var values = border.Select(channel).Order().ToList();
            return values[values.Count / 2];
        }
        return new Rgb24(Median(p => p.R), Median(p => p.G), Median(p => p.B));
    }
}
