using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Easel.Testing;

/// <summary>Small input images and request bodies for image-to-image and inpainting tests.</summary>
public static class TestImages
{
    /// <summary>A PNG with a horizontal colour ramp (so that img2img has something to keep).</summary>
    public static byte[] Png(int width = 64, int height = 64)
    {
        using var image = new Image<Rgb24>(width, height);
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
                image[x, y] = new Rgb24((byte)(255 * x / Math.Max(1, width - 1)), (byte)(255 * y / Math.Max(1, height - 1)), 96);
        return Save(image, s => image.SaveAsPng(s));
    }

    /// <summary>A single-colour PNG: a few kilobytes even at a huge size (a decompression bomb in miniature).</summary>
    public static byte[] SolidPng(int width, int height)
    {
        using var image = new Image<L8>(width, height);
        return Save(image, s => image.SaveAsPng(s));
    }

    public static byte[] Jpeg(int width = 64, int height = 64)
    {
        using var image = Image.Load<Rgb24>(Png(width, height));
        return Save(image, s => image.SaveAsJpeg(s));
    }

    public static byte[] Gif(int width = 64, int height = 64)
    {
        using var image = Image.Load<Rgb24>(Png(width, height));
        return Save(image, s => image.SaveAsGif(s));
    }

    /// <summary>A grayscale PNG mask: white (repaint) in the centre square, black elsewhere.</summary>
    public static byte[] Mask(int width = 64, int height = 64)
    {
        using var image = new Image<L8>(width, height);
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
                image[x, y] = new L8(x >= width / 4 && x < 3 * width / 4 && y >= height / 4 && y < 3 * height / 4 ? (byte)255 : (byte)0);
        return Save(image, s => image.SaveAsPng(s));
    }

    private static byte[] Save(Image image, Action<Stream> save)
    {
        using var stream = new MemoryStream();
        save(stream);
        return stream.ToArray();
    }

    /// <summary>The same request as multipart/form-data: every JSON value as a text field, the images as file parts.</summary>
    public static MultipartFormDataContent Multipart(JsonObject fields, byte[]? image = null, byte[]? mask = null)
    {
        var content = new MultipartFormDataContent();
        foreach (var (name, value) in fields)
            if (value is not null)
                content.Add(new StringContent(value is JsonValue v && v.TryGetValue<string>(out var s) ? s : value.ToJsonString()), name);
        if (image is not null)
            content.Add(File(image, "image.png"), "image", "image.png");
        if (mask is not null)
            content.Add(File(mask, "mask.png"), "mask", "mask.png");
        return content;
    }

    private static ByteArrayContent File(byte[] bytes, string name)
    {
        var file = new ByteArrayContent(bytes);
        file.Headers.ContentType = new MediaTypeHeaderValue(name.EndsWith(".png", StringComparison.Ordinal) ? "image/png" : "application/octet-stream");
        return file;
    }
}
