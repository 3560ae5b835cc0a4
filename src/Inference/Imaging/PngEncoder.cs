using Easel.Inference.Pipelines;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using ImageSharpPngEncoder = SixLabors.ImageSharp.Formats.Png.PngEncoder;

namespace Easel.Inference.Imaging;

/// <summary>
/// Encodes a <see cref="GeneratedImage"/> as an 8-bit RGB PNG with text chunks. Latin-1 text is written as tEXt
/// (uncompressed, whatever its length, so A1111-style readers find "parameters"); text with other characters as
/// iTXt (UTF-8), as the PNG specification requires.
/// </summary>
public static class PngEncoder
{
    private static readonly ImageSharpPngEncoder Encoder = new()
    {
        ColorType = PngColorType.Rgb,
        BitDepth = PngBitDepth.Bit8,
        CompressionLevel = PngCompressionLevel.DefaultCompression,
        TextCompressionThreshold = int.MaxValue,
    };

    /// <param name="text">Keyword → value, written in order. Keywords are 1–79 Latin-1 characters.</param>
    public static byte[] Encode(GeneratedImage image, IEnumerable<KeyValuePair<string, string>>? text = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Width <= 0 || image.Height <= 0)
            throw new ArgumentException($"Image size {image.Width}×{image.Height} is not positive.", nameof(image));
        if (image.Rgb.Length != checked(image.Width * image.Height * 3))
            throw new ArgumentException(
                $"Image of {image.Width}×{image.Height} needs {image.Width * image.Height * 3} RGB bytes, got {image.Rgb.Length}.",
                nameof(image));

        using var png = Image.LoadPixelData<Rgb24>(image.Rgb, image.Width, image.Height);
        var metadata = png.Metadata.GetPngMetadata();
        foreach (var (keyword, value) in text ?? [])
        {
            if (keyword.Length is 0 or > 79 || keyword.Any(c => c > 0xFF))
                throw new ArgumentException($"'{keyword}' is not a valid PNG text keyword (1–79 Latin-1 characters).", nameof(text));
            metadata.TextData.Add(new PngTextData(keyword, value, "", ""));
        }
        using var output = new MemoryStream();
        png.Save(output, Encoder);
        return output.ToArray();
    }
}
