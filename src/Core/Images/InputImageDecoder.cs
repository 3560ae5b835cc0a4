using System.Runtime.InteropServices;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using ImageSharpImage = SixLabors.ImageSharp.Image;

namespace Easel.Core.Images;

/// <summary>An uploaded image after checks: its size and the normalized PNG (RGB, or 8-bit gray for masks) to store.</summary>
public sealed record DecodedInputImage(int Width, int Height, byte[] Png);

/// <summary>Why an upload was refused: the HTTP status (400 or 413) and a message for the field.</summary>
public sealed record InputImageProblem(int Status, string Message);

/// <summary>
/// Reads client images defensively (ImageSharp 2.1.13 has advisories for crafted images, and a tiny PNG can declare a
/// huge canvas): the byte count is capped first, then only the header is read (<c>Image.Identify</c>)
/// to learn the format and the dimensions, which are capped before a single pixel is decoded — and only PNG and JPEG
/// decoders, with metadata off (no compressed text chunk is ever inflated), are ever run on client bytes. Alpha is dropped (as diffusers' <c>convert("RGB")</c>); EXIF orientation is
/// not applied.
/// </summary>
public static class InputImageDecoder
{
    /// <summary>
    /// Decoders allowed on client bytes. They skip metadata: a PNG's zTXt/iTXt/iCCP chunks are deflated, so a few
    /// kilobytes of them can inflate to gigabytes (a decompression bomb that no pixel count catches), and nothing here
    /// keeps metadata anyway.
    /// </summary>
    private static readonly Configuration Decoders = CreateDecoders();

    private static Configuration CreateDecoders()
    {
        var configuration = new Configuration(new PngConfigurationModule(), new JpegConfigurationModule());
        configuration.ImageFormatsManager.SetDecoder(PngFormat.Instance, new PngDecoder { IgnoreMetadata = true });
        configuration.ImageFormatsManager.SetDecoder(JpegFormat.Instance, new JpegDecoder { IgnoreMetadata = true });
        return configuration;
    }

    private static readonly PngEncoder RgbPng = new() { ColorType = PngColorType.Rgb, BitDepth = PngBitDepth.Bit8 };
    private static readonly PngEncoder GrayPng = new() { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit8 };

    /// <summary>Checks and decodes <paramref name="bytes"/>; exactly one of the results is non-null.</summary>
    public static (DecodedInputImage? Image, InputImageProblem? Problem) Decode(byte[] bytes, bool grayscale, long maxBytes, long maxPixels)
    {
        if (Check(bytes, maxBytes, maxPixels) is { } problem)
            return (null, problem);
        try
        {
            using var stream = new MemoryStream();
            int width, height;
            if (grayscale)
            {
                using var image = ImageSharpImage.Load<L8>(Decoders, bytes);
                image.Metadata.ExifProfile = null;
                image.SaveAsPng(stream, GrayPng);
                (width, height) = (image.Width, image.Height);
            }
            else
            {
                using var image = ImageSharpImage.Load<Rgb24>(Decoders, bytes);
                image.Metadata.ExifProfile = null;
                image.SaveAsPng(stream, RgbPng);
                (width, height) = (image.Width, image.Height);
            }
            return (new DecodedInputImage(width, height, stream.ToArray()), null);
        }
        catch (Exception e) when (IsDecodeFailure(e))
        {
            return (null, new InputImageProblem(400, $"The image could not be decoded: {e.Message}"));
        }
    }

    /// <summary>
    /// Checks and decodes <paramref name="bytes"/> as <see cref="Decode"/> does, to RGB pixels instead of a stored PNG (for
    /// inputs used at once, such as POST /v1/preprocess); exactly one of the results is non-null, the image is the caller's.
    /// </summary>
    public static (Image<Rgb24>? Image, InputImageProblem? Problem) DecodeRgb(byte[] bytes, long maxBytes, long maxPixels)
    {
        if (Check(bytes, maxBytes, maxPixels) is { } problem)
            return (null, problem);
        try
        {
            return (ImageSharpImage.Load<Rgb24>(Decoders, bytes), null);
        }
        catch (Exception e) when (IsDecodeFailure(e))
        {
            return (null, new InputImageProblem(400, $"The image could not be decoded: {e.Message}"));
        }
    }

    private static bool IsDecodeFailure(Exception e) => e is ImageFormatException or NotSupportedException or InvalidDataException
        or ArgumentException or IndexOutOfRangeException or EndOfStreamException;

    /// <summary>The byte count, the format from the signature and the size from the header, before any pixel is decoded.</summary>
    private static InputImageProblem? Check(byte[] bytes, long maxBytes, long maxPixels)
    {
        if (bytes.Length > maxBytes)
            return new InputImageProblem(413, $"The image is {bytes.Length} bytes; at most {maxBytes} are accepted.");
        if (bytes.Length == 0)
            return new InputImageProblem(400, "The image is empty.");

        // The format from its signature alone (the default configuration knows more formats than we decode, so that a
        // GIF is named as such); only the PNG and JPEG decoders ever read further.
        var format = ImageSharpImage.DetectFormat(Configuration.Default, bytes);
        if (format is null)
            return new InputImageProblem(400, "The data is not an image (expected PNG or JPEG).");
        if (format is not (PngFormat or JpegFormat))
            return new InputImageProblem(400, $"Unsupported image format {format.Name}; send PNG or JPEG.");

        IImageInfo? info;
        try
        {
            info = ImageSharpImage.Identify(Decoders, bytes, out _);
        }
        catch (Exception e) when (IsDecodeFailure(e))
        {
            return new InputImageProblem(400, "The data is not a readable image.");
        }
        if (info is null)
            return new InputImageProblem(400, "The data is not a readable image.");
        if (info.Width <= 0 || info.Height <= 0)
            return new InputImageProblem(400, "The image has no pixels.");
        if ((long)info.Width * info.Height > maxPixels)
            return new InputImageProblem(400,
                $"The image is {info.Width}×{info.Height} = {(long)info.Width * info.Height} pixels; at most {maxPixels} are accepted.");

        return null;
    }

    /// <summary>
    /// Reads a PNG this service stored (see <see cref="Decode"/>) back to 8-bit pixels: RGB (3 bytes per pixel) or gray
    /// (1 byte), row-major.
    /// </summary>
    public static (int Width, int Height, byte[] Pixels) ReadStoredPng(Stream png, bool grayscale)
    {
        if (grayscale)
        {
            using var image = ImageSharpImage.Load<L8>(Decoders, png);
            var pixels = new L8[image.Width * image.Height];
            image.CopyPixelDataTo(pixels);
            return (image.Width, image.Height, MemoryMarshal.AsBytes(pixels.AsSpan()).ToArray());
        }
        else
        {
            using var image = ImageSharpImage.Load<Rgb24>(Decoders, png);
            var pixels = new Rgb24[image.Width * image.Height];
            image.CopyPixelDataTo(pixels);
            return (image.Width, image.Height, MemoryMarshal.AsBytes(pixels.AsSpan()).ToArray());
        }
    }
}
