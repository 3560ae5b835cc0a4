using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Easel.Api.Apis;

/// <summary>Small real PNGs for the request examples of the OpenAPI document, so that each example runs as it stands.</summary>
internal static class ExampleImages
{
    /// <summary>A 64×64 image (the bundled model's size) whose pixel (x, y) is <paramref name="pixel"/>(x, y), as base64 PNG.</summary>
    public static string Png(Func<int, int, Rgb24> pixel)
    {
        using var image = new Image<Rgb24>(64, 64);
        for (var y = 0; y < 64; y++)
            for (var x = 0; x < 64; x++)
                image[x, y] = pixel(x, y);
        using var png = new MemoryStream();
        image.SaveAsPng(png);
        return Convert.ToBase64String(png.ToArray());
    }

    /// <summary>Whether (x, y) lies in the square [20, 44)² at the canvas centre.</summary>
    public static bool InCentre(int x, int y) => x is >= 20 and < 44 && y is >= 20 and < 44;
}
