using Easel.Inference.Control.Preprocessors;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Easel.Inference.Tests.Control;

public sealed class ControlImageResizeTests
{
    private static readonly Rgb24 Red = new(220, 0, 0);
    private static readonly Rgb24 Blue = new(0, 0, 220);

    /// <summary>200×100: a red left half and a blue right half.</summary>
    private static Image<Rgb24> Halves()
    {
        var image = new Image<Rgb24>(200, 100, Red);
        for (var y = 0; y < 100; y++)
            for (var x = 100; x < 200; x++)
                image[x, y] = Blue;
        return image;
    }

    [Theory]
    [InlineData(ControlResizeMode.Resize)]
    [InlineData(ControlResizeMode.Crop)]
    [InlineData(ControlResizeMode.Fill)]
    public void Every_mode_gives_the_output_size(ControlResizeMode mode)
    {
        using var image = Halves();

        using var resized = ControlImageResize.Apply(image, 64, 96, mode);

        Assert.Equal((64, 96), (resized.Width, resized.Height));
    }

    [Fact]
    public void Resize_stretches_keeping_both_halves()
    {
        using var image = Halves();

        using var resized = ControlImageResize.Apply(image, 64, 64, ControlResizeMode.Resize);

        Assert.Equal(Red, resized[5, 32]);
        Assert.Equal(Blue, resized[58, 32]);
    }

    [Fact]
    public void Crop_scales_to_cover_and_cuts_both_sides_evenly()
    {
        using var image = Halves();

        // 200×100 covers 64×64 at 128×64: 32 columns are cut from each side, so the split stays in the middle.
        using var cropped = ControlImageResize.Apply(image, 64, 64, ControlResizeMode.Crop);

        Assert.Equal(Red, cropped[0, 32]);
        Assert.Equal(Red, cropped[29, 32]);
        Assert.Equal(Blue, cropped[34, 32]);
        Assert.Equal(Blue, cropped[63, 32]);
    }

    [Fact]
    public void Fill_fits_the_image_centred_on_the_border_median()
    {
        using var image = Halves();
        image[0, 0] = new Rgb24(0, 255, 0);

        // 200×100 fits 64×64 at 64×32, placed at rows 16 … 47; the bands above and below take the border's median colour.
        using var filled = ControlImageResize.Apply(image, 64, 64, ControlResizeMode.Fill);

        var median = filled[32, 0];
        Assert.True(median == Red || median == Blue, median.ToString());
        Assert.Equal(median, filled[5, 15]);
        Assert.Equal(median, filled[60, 48]);
        Assert.Equal(Red, filled[5, 32]);
        Assert.Equal(Blue, filled[60, 32]);
    }

    [Theory]
    [InlineData("resize", ControlResizeMode.Resize)]
    [InlineData("Crop", ControlResizeMode.Crop)]
    [InlineData(" fill ", ControlResizeMode.Fill)]
    public void Mode_names_parse_case_insensitively(string name, ControlResizeMode expected)
    {
        Assert.True(ControlImageResize.TryParse(name, out var mode));
        Assert.Equal(expected, mode);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("stretch")]
    [InlineData(null)]
    public void Other_mode_names_do_not_parse(string? name) => Assert.False(ControlImageResize.TryParse(name, out _));
}
