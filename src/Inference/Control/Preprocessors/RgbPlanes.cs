using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Easel.Inference.Control.Preprocessors;

/// <summary>Pixel access shared by the preprocessors: interleaved RGB bytes in and out, gray planes as RGB.</summary>
internal static class RgbPlanes
{
    public static byte[] Read(Image<Rgb24> image)
    {
        var rgb = new byte[image.Width * image.Height * 3];
        image.CopyPixelDataTo(rgb);
        return rgb;
    }

    /// <summary>One channel (0 = R) of interleaved RGB as floats.</summary>
    public static float[] Channel(byte[] rgb, int channel)
    {
        var plane = new float[rgb.Length / 3];
        for (var i = 0; i < plane.Length; i++)
            plane[i] = rgb[3 * i + channel];
        return plane;
    }

    public static Image<Rgb24> FromRgb(byte[] rgb, int width, int height) => Image.LoadPixelData<Rgb24>(rgb, width, height);

    /// <summary>A gray plane (0–255, rounded and clamped) as an RGB image with three equal channels.</summary>
    public static Image<Rgb24> FromGray(float[] gray, int width, int height)
    {
        var rgb = new byte[gray.Length * 3];
        for (var i = 0; i < gray.Length; i++)
            rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = (byte)Math.Clamp(MathF.Round(gray[i]), 0, 255);
        return FromRgb(rgb, width, height);
    }

    /// <summary>A mask as white on black.</summary>
    public static Image<Rgb24> FromMask(bool[] mask, int width, int height)
    {
        var rgb = new byte[mask.Length * 3];
        for (var i = 0; i < mask.Length; i++)
            if (mask[i])
                rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = 255;
        return FromRgb(rgb, width, height);
    }
}
