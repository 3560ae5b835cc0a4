using Easel.Inference.Shapes;

namespace Easel.Inference.Tests.Shapes;

public sealed class ShapeRendererTests
{
    [Fact]
    public void Render_SameSeedAndIndex_GivesIdenticalBytes()
    {
        for (ulong i = 0; i < 50; i++)
        {
            var a = ShapeRenderer.Render(new SceneGenerator(42).Generate(i).Scene);
            var b = ShapeRenderer.Render(new SceneGenerator(42).Generate(i).Scene);
            Assert.Equal(a, b);
        }
    }

    [Fact]
    public void Render_DifferentSeeds_GiveDifferentImages()
    {
        var a = ShapeRenderer.Render(new SceneGenerator(1).Generate(0).Scene);
        var b = ShapeRenderer.Render(new SceneGenerator(2).Generate(0).Scene);
        Assert.NotEqual(a, b);
        int differing = Enumerable.Range(0, 20)
            .Count(i => !ShapeRenderer.Render(new SceneGenerator(1).Generate((ulong)i).Scene)
                .SequenceEqual(ShapeRenderer.Render(new SceneGenerator(2).Generate((ulong)i).Scene)));
        Assert.Equal(20, differing);
    }

    [Fact]
    public void Render_IsAHashStable_GoldenForSeedZero()
    {
        // Guards the determinism contract across machines and refactorings: changing the world changes this hash.
        var bytes = new SceneGenerator(0).Stream().Take(8).SelectMany(g => ShapeRenderer.Render(g.Scene)).ToArray();
        var hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes))[..16];
        Assert.Equal(GoldenHash, hash);
    }

    private const string GoldenHash = "2BB0AEE0C3D93E9F";

    [Fact]
    public void Render_CircleEdges_AreAntiAliased()
    {
        var scene = new Scene(new Rgb(128, 128, 128), [new SceneObject(ShapeKind.Circle, ShapeColor.Black, ShapeSize.Large, 32, 32, 12.3)]);
        var rgb = ShapeRenderer.Render(scene);
        int intermediate = Enumerable.Range(0, 64 * 64).Count(i => rgb[3 * i] is > 5 and < 123);
        Assert.InRange(intermediate, 40, 200); // a ring of partly covered pixels around the circle
        Assert.Equal(0, rgb[3 * (32 * 64 + 32)]);
        Assert.Equal(128, rgb[0]);
    }

    [Fact]
    public void Render_SquareCoverage_MatchesItsArea()
    {
        var scene = new Scene(new Rgb(0, 0, 0), [new SceneObject(ShapeKind.Square, ShapeColor.White, ShapeSize.Large, 30.3, 33.7, 11)]);
        var rgb = ShapeRenderer.Render(scene);
        double covered = Enumerable.Range(0, 64 * 64).Sum(i => rgb[3 * i] / 255.0);
        Assert.Equal(ShapeLayout.Area(ShapeKind.Square, 11), covered, 0.5);
    }

    [Theory]
    [InlineData(ShapeKind.Circle)]
    [InlineData(ShapeKind.Square)]
    [InlineData(ShapeKind.Triangle)]
    [InlineData(ShapeKind.Star)]
    [InlineData(ShapeKind.Ring)]
    public void RenderCoverage_SumsToTheShapesArea(ShapeKind kind)
    {
        var coverage = new float[64 * 64];
        ShapeRenderer.RenderCoverage(new SceneObject(kind, ShapeColor.Red, ShapeSize.Large, 31.2, 30.6, 12), 0, 0, 64, 64, coverage);
        Assert.Equal(ShapeLayout.Area(kind, 12), coverage.Sum(), ShapeLayout.Area(kind, 12) * 0.01);
    }

    [Fact]
    public void SavePng_ThenLoadRgb_RoundTripsTheBytes()
    {
        var rgb = ShapeRenderer.Render(new SceneGenerator(3).Generate(7).Scene);
        var path = Path.Combine(Path.GetTempPath(), $"easel-shapes-{Guid.NewGuid():N}.png");
        try
        {
            ShapeRenderer.SavePng(rgb, 64, 64, path);
            var loaded = ShapeRenderer.LoadRgb(path, out int w, out int h);
            Assert.Equal((64, 64), (w, h));
            Assert.Equal(rgb, loaded);
        }
        finally
        {
            File.Delete(path);
        }
    }
}

public sealed class ShapeRendererConversionTests
{
    [Fact]
    public void ToChwFloats_MapsBytesToMinusOneToOne_InChannelPlanes()
    {
        var rgb = new byte[64 * 64 * 3];
        rgb[0] = 255; // pixel 0 red
        rgb[3 * 65 + 2] = 255; // pixel (1, 1) blue
        var chw = new float[rgb.Length];
        ShapeRenderer.ToChwFloats(rgb, chw);
        Assert.Equal(1f, chw[0]);
        Assert.Equal(-1f, chw[4096]);
        Assert.Equal(1f, chw[2 * 4096 + 65]);
        Assert.Equal(-1f, chw[65]);
    }
}
