using Easel.Inference.Control.Preprocessors;
using Easel.Inference.Shapes;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace Easel.Inference.Tests.Control;

public sealed class PreprocessorTests
{
    private static readonly Rgb Grey = ShapePalette.Backgrounds[0];

    /// <summary>A rendered large red square (bounds 20 … 44) on the first background, 64×64.</summary>
    private static Image<Rgb24> Square() => Render(new SceneObject(ShapeKind.Square, ShapeColor.Red, ShapeSize.Large, 32, 32, 12));

    private static Image<Rgb24> Render(params SceneObject[] objects) =>
        Image.LoadPixelData<Rgb24>(ShapeRenderer.Render(new Scene(Grey, objects)), ShapeRenderer.Size, ShapeRenderer.Size);

    private static int White(Image<Rgb24> map)
    {
        var count = 0;
        for (var y = 0; y < map.Height; y++)
            for (var x = 0; x < map.Width; x++)
                if (map[x, y].R == 255)
                    count++;
        return count;
    }

    private static Image<Rgb24> Apply(string name, Image<Rgb24> image, PreprocessorParameters? parameters = null)
    {
        Assert.True(ControlPreprocessors.TryGet(name, out var preprocessor));
        return preprocessor.Apply(image, parameters ?? PreprocessorParameters.Default);
    }

    [Fact]
    public void Canny_finds_the_outline_of_a_rendered_square_and_nothing_inside_or_outside_it()
    {
        using var square = Square();
        using var edges = Apply("canny", square);

        for (var y = 0; y < 64; y++)
        {
            for (var x = 0; x < 64; x++)
            {
                var nearOutline = x is >= 18 and <= 45 && y is >= 18 and <= 45 && !(x is >= 22 and <= 41 && y is >= 22 and <= 41);
                if (!nearOutline)
                    Assert.True(edges[x, y].R == 0, $"edge at ({x}, {y}) away from the outline");
            }
        }
        // Every side of the square has an edge pixel in each of its rows or columns.
        for (var i = 22; i <= 41; i++)
        {
            Assert.Contains(Enumerable.Range(18, 5), x => edges[x, i].R == 255);
            Assert.Contains(Enumerable.Range(41, 5), x => edges[x, i].R == 255);
            Assert.Contains(Enumerable.Range(18, 5), y => edges[i, y].R == 255);
            Assert.Contains(Enumerable.Range(41, 5), y => edges[i, y].R == 255);
        }
    }

    [Fact]
    public void Canny_of_a_flat_image_is_black()
    {
        using var flat = new Image<Rgb24>(40, 30, new Rgb24(90, 160, 30));

        using var edges = Apply("canny", flat);

        Assert.Equal(0, White(edges));
    }

    [Fact]
    public void Raising_either_canny_threshold_never_adds_edges()
    {
        // A ramp with shapes of several contrasts: edges of every strength.
        using var image = Render(
            new SceneObject(ShapeKind.Circle, ShapeColor.Yellow, ShapeSize.Large, 18, 18, 12),
            new SceneObject(ShapeKind.Triangle, ShapeColor.Blue, ShapeSize.Large, 46, 46, 12),
            new SceneObject(ShapeKind.Star, ShapeColor.White, ShapeSize.Small, 46, 16, 7));
        int Count(double low, double high)
        {
            using var edges = Apply("canny", image, new PreprocessorParameters(low, high));
            return White(edges);
        }

        var byLow = new[] { 10, 50, 100, 200, 400 }.Select(low => Count(low, 400)).ToList();
        var byHigh = new[] { 100, 200, 400, 800, 1600 }.Select(high => Count(100, high)).ToList();

        Assert.Equal(byLow.OrderDescending(), byLow);
        Assert.Equal(byHigh.OrderDescending(), byHigh);
        Assert.True(byLow[0] > byLow[^1] && byHigh[0] > byHigh[^1], $"{string.Join(",", byLow)} / {string.Join(",", byHigh)}");
    }

    [Fact]
    public void Smoothing_before_canny_keeps_the_square_outline()
    {
        using var square = Square();

        using var edges = Apply("canny", square, new PreprocessorParameters(BlurSigma: 1.4));

        Assert.InRange(White(edges), 4 * 20, 4 * 30);
    }

    [Fact]
    public void Scribble_lines_are_binary_and_thicker_than_canny_edges()
    {
        using var square = Square();
        using var canny = Apply("canny", square);
        using var scribble = Apply("scribble", square);

        Assert.True(White(scribble) > 4 * White(canny), $"{White(scribble)} vs {White(canny)}");
        for (var y = 0; y < 64; y++)
            for (var x = 0; x < 64; x++)
                Assert.True(scribble[x, y].R is 0 or 255);
        Assert.Equal(0, scribble[32, 32].R); // the middle of the square stays black
    }

    [Fact]
    public void Lineart_draws_the_dark_side_of_an_outline_white_on_black()
    {
        // A dark square on the light grey: its inner rim is darker than its surroundings.
        using var image = Image.LoadPixelData<Rgb24>(ShapeRenderer.Render(new Scene(ShapePalette.Backgrounds[1],
            [new SceneObject(ShapeKind.Square, ShapeColor.Black, ShapeSize.Large, 32, 32, 12)])), 64, 64);

        using var lineart = Apply("lineart", image);

        var rim = Enumerable.Range(18, 8).Max(x => lineart[x, 32].R);
        Assert.True(rim > 2 * lineart[32, 32].R, $"inner rim {rim}, centre {lineart[32, 32]}");
        Assert.Equal(0, lineart[5, 5].R); // flat background
        Assert.Equal(0, lineart[16, 32].R); // the lighter side of the edge
    }

    [Fact]
    public void Color_of_a_two_colour_image_keeps_the_two_colours_in_their_cells()
    {
        using var image = new Image<Rgb24>(128, 64, new Rgb24(200, 20, 20));
        for (var y = 0; y < 64; y++)
            for (var x = 64; x < 128; x++)
                image[x, y] = new Rgb24(10, 40, 220);

        using var palette = Apply("color", image);

        Assert.Equal((128, 64), (palette.Width, palette.Height));
        Assert.Equal(new Rgb24(200, 20, 20), palette[0, 0]);
        Assert.Equal(new Rgb24(200, 20, 20), palette[63, 63]);
        Assert.Equal(new Rgb24(10, 40, 220), palette[64, 0]);
        Assert.Equal(new Rgb24(10, 40, 220), palette[127, 63]);
    }

    [Fact]
    public void Color_averages_cells_of_an_eighth_of_the_short_side_as_A1111_at_its_512_pixel_resolution()
    {
        using var square = Square();
        using var large = square.Clone(c => c.Resize(512, 512, KnownResamplers.NearestNeighbor));

        using var palette = Apply("color", square);
        using var largePalette = Apply("color", large);

        var rgb = new byte[64 * 64 * 3];
        square.CopyPixelDataTo(rgb);
        // At 64 pixels the cells are 8 pixels: the cell (8..15, 48..55) holds its own mean.
        var meanRed = Enumerable.Range(48, 8).SelectMany(y => Enumerable.Range(8, 8).Select(x => (double)rgb[3 * (y * 64 + x)])).Average();
        Assert.Equal((byte)Math.Round(meanRed), palette[10, 50].R);
        // At 512 pixels the cells are 64 pixels, A1111's, and the grid is the same.
        Assert.Equal(largePalette[10 * 8, 50 * 8], palette[10, 50]);
        Assert.Equal(largePalette[0, 0], largePalette[63, 63]);
    }

    [Fact]
    public void Shuffle_gives_the_same_map_for_the_same_seed_and_another_for_another_seed()
    {
        using var image = Render(
            new SceneObject(ShapeKind.Circle, ShapeColor.Yellow, ShapeSize.Large, 18, 18, 12),
            new SceneObject(ShapeKind.Square, ShapeColor.Blue, ShapeSize.Large, 46, 46, 12));

        static byte[] Pixels(Image<Rgb24> map)
        {
            var rgb = new byte[map.Width * map.Height * 3];
            map.CopyPixelDataTo(rgb);
            return rgb;
        }
        using var first = Apply("shuffle", image, new PreprocessorParameters(Seed: 7));
        using var again = Apply("shuffle", image, new PreprocessorParameters(Seed: 7));
        using var other = Apply("shuffle", image, new PreprocessorParameters(Seed: 8));

        Assert.Equal(Pixels(first), Pixels(again));
        Assert.NotEqual(Pixels(first), Pixels(other));
        Assert.NotEqual(Pixels(image), Pixels(first));
    }

    [Fact]
    public void Invert_twice_is_the_identity_and_none_copies()
    {
        using var square = Square();

        using var once = Apply("invert", square);
        using var twice = Apply("invert", once);
        using var copy = Apply("none", square);

        Assert.Equal(new Rgb24((byte)(255 - square[32, 32].R), (byte)(255 - square[32, 32].G), (byte)(255 - square[32, 32].B)), once[32, 32]);
        for (var y = 0; y < 64; y++)
            for (var x = 0; x < 64; x++)
            {
                Assert.Equal(square[x, y], twice[x, y]);
                Assert.Equal(square[x, y], copy[x, y]);
            }
    }

    [Fact]
    public void Registry_knows_every_preprocessor_by_name_case_insensitively()
    {
        Assert.Equal(["none", "canny", "scribble", "lineart", "color", "shuffle", "invert"], ControlPreprocessors.Names);
        Assert.True(ControlPreprocessors.TryGet(" Canny ", out var canny));
        Assert.Equal("canny", canny.Name);
        Assert.False(ControlPreprocessors.TryGet("depth", out _));
    }
}
