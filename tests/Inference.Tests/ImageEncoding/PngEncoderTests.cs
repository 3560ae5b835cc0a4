using System.Text;
using Easel.Inference.Pipelines;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using PngEncoder = Easel.Inference.Imaging.PngEncoder;

namespace Easel.Inference.Tests.ImageEncoding;

public sealed class PngEncoderTests
{
    private static GeneratedImage Gradient(int width, int height)
    {
        var rgb = new byte[width * height * 3];
        for (var y = 0; y < height; y++)
        for (var x = 0; x < width; x++)
        {
            var i = (y * width + x) * 3;
            (rgb[i], rgb[i + 1], rgb[i + 2]) = ((byte)(x * 255 / (width - 1)), (byte)(y * 255 / (height - 1)), (byte)((x + y) % 256));
        }
        return new GeneratedImage(width, height, rgb);
    }

    [Fact]
    public void Pixels_round_trip_exactly_in_row_major_rgb_order()
    {
        var image = Gradient(13, 7);

        using var decoded = Image.Load<Rgb24>(PngEncoder.Encode(image));

        Assert.Equal((13, 7), (decoded.Width, decoded.Height));
        for (var y = 0; y < 7; y++)
        for (var x = 0; x < 13; x++)
        {
            var i = (y * 13 + x) * 3;
            Assert.Equal(new Rgb24(image.Rgb[i], image.Rgb[i + 1], image.Rgb[i + 2]), decoded[x, y]);
        }
    }

    [Fact]
    public void Latin1_text_is_written_as_uncompressed_tEXt_chunks_even_when_long()
    {
        var parameters = "a red circle\nNegative prompt: blurry\nSteps: 5, Sampler: DDIM, CFG scale: 7.5, Seed: 2000, Size: 64x64, Model: sd15"
            + new string('x', 5000);

        var png = PngEncoder.Encode(Gradient(4, 4), [new("parameters", parameters), new("easel", "{\"seed\":2000}")]);

        var chunks = Chunks(png);
        Assert.Equal(2, chunks.Count(c => c.Type == "tEXt"));
        Assert.DoesNotContain(chunks, c => c.Type is "zTXt" or "iTXt");
        var text = chunks.Where(c => c.Type == "tEXt").Select(c => Encoding.Latin1.GetString(c.Data)).ToList();
        Assert.Contains("parameters\0" + parameters, text);
        Assert.Contains("easel\0{\"seed\":2000}", text);
    }

    [Fact]
    public void Text_outside_latin1_survives_as_utf8()
    {
        var png = PngEncoder.Encode(Gradient(4, 4), [new("parameters", "一只猫 🐱")]);

        using var decoded = Image.Load<Rgb24>(png);
        Assert.Equal("一只猫 🐱", decoded.Metadata.GetPngMetadata().TextData.Single(t => t.Keyword == "parameters").Value);
    }

    [Fact]
    public void Wrong_buffer_length_is_rejected() =>
        Assert.Throws<ArgumentException>(() => PngEncoder.Encode(new GeneratedImage(4, 4, new byte[47])));

    [Fact]
    public void Keyword_longer_than_79_characters_is_rejected() =>
        Assert.Throws<ArgumentException>(() => PngEncoder.Encode(Gradient(2, 2), [new(new string('k', 80), "v")]));

    private static List<(string Type, byte[] Data)> Chunks(byte[] png)
    {
        var chunks = new List<(string, byte[])>();
        for (var offset = 8; offset < png.Length;)
        {
            var length = (png[offset] << 24) | (png[offset + 1] << 16) | (png[offset + 2] << 8) | png[offset + 3];
            chunks.Add((Encoding.ASCII.GetString(png, offset + 4, 4), png[(offset + 8)..(offset + 8 + length)]));
            offset += 12 + length;
        }
        return chunks;
    }
}
