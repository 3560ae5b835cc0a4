using Easel.Inference.Shapes;
using Xunit.Abstractions;

namespace Easel.Inference.Tests.Shapes;

/// <summary>The opt-in ring: rendered, captioned, parsed and judged, without touching the default world.</summary>
public sealed class RingTests(ITestOutputHelper output)
{
    private static readonly ShapeJudge RingJudge = new(ShapeJudgeOptions.Default with { Kinds = ShapeKinds.WithRing });

    /// <summary>Single objects of one kind in every colour, size, position and background (a generator restricted to the kind).</summary>
    private static GeneratedScene[] Singles(ShapeKind kind, int count, ulong seed) =>
        new SceneGenerator(seed, SceneGeneratorOptions.Default with
        {
            OneObject = 1.0, TwoObjects = 0.0, OmitColor = 0.0, OmitKind = 0.0, Kinds = [kind],
        }).Stream().Take(count).ToArray();

    /// <summary>The share of images whose only detected object is judged to be <paramref name="kind"/> with the true colour and position.</summary>
    private double RateJudgedAs(ShapeKind kind, GeneratedScene[] scenes, Func<byte[], byte[]> degrade)
    {
        int hits = 0;
        foreach (var g in scenes)
        {
            var truth = g.Scene.Objects[0];
            var found = RingJudge.Analyze(degrade(ShapeRenderer.Render(g.Scene))).Objects;
            bool hit = found is [var only] && only.Kind == kind && only.Color == truth.Color
                && only.Position == ShapeLayout.Classify(truth.CenterX, truth.CenterY) && only.Size == truth.Size;
            if (hit) hits++;
            else output.WriteLine($"\"{g.Caption}\" {truth} found [{string.Join("; ", found)}]");
        }
        return hits / (double)scenes.Length;
    }

    [Fact]
    public void RenderedRings_AreJudgedAsRings_WithTheirColourSizeAndPosition()
    {
        var rings = Singles(ShapeKind.Ring, 200, 31);
        Assert.All(ShapePalette.Colors, c => Assert.Contains(rings, g => g.Scene.Objects[0].Color == c));
        Assert.True(RateJudgedAs(ShapeKind.Ring, rings, img => img) >= 0.95);
    }

    [Fact]
    public void BlurredNoisyRings_AreStillJudgedAsRings()
    {
        var rings = Singles(ShapeKind.Ring, 200, 32);
        Assert.True(RateJudgedAs(ShapeKind.Ring, rings, img => ShapeImages.AddNoise(ShapeImages.BoxBlur3(img), 8, 5)) >= 0.9);
    }

    [Fact]
    public void RenderedCircles_AreNotJudgedAsRings_WhenRingsAreEnabled()
    {
        var circles = Singles(ShapeKind.Circle, 200, 33);
        Assert.True(RateJudgedAs(ShapeKind.Circle, circles, img => img) >= 0.99);
        Assert.True(RateJudgedAs(ShapeKind.Circle, circles, img => ShapeImages.AddNoise(ShapeImages.BoxBlur3(img), 8, 5)) >= 0.95);
    }

    [Fact]
    public void TheTrainedKinds_AreStillJudgedRight_WhenRingsAreEnabled()
    {
        var scenes = new SceneGenerator(34).Stream().Take(500).ToArray();
        var tally = new JudgeTally();
        foreach (var g in scenes)
        {
            var truth = new SceneSpec(g.Scene.Objects.Select(o => new ObjectSpec(o.Color, o.Kind, o.Size, ShapeLayout.Classify(o.CenterX, o.CenterY))).ToArray());
            tally.Add(RingJudge.Score(ShapeRenderer.Render(g.Scene), truth));
        }
        output.WriteLine(tally.ToString());
        Assert.True(tally.Shape.Value >= 0.99, tally.ToString());
    }

    [Fact]
    public void AnAnnulusWithAPartlyFilledHole_IsNotARing()
    {
        // What an untrained model draws for "a ring": a blob whose centre is only paler than its rim.
        var rgb = ShapeRenderer.Render(new Scene(new Rgb(128, 128, 128), [new SceneObject(ShapeKind.Ring, ShapeColor.Green, ShapeSize.Large, 32, 32, 12)]));
        var green = ShapeColor.Green.ToRgb();
        static byte Tint(byte c) => (byte)Math.Round(128 + 0.4 * (c - 128)); // 40 % of the way to the ring's colour
        for (int y = 26; y < 38; y++)
            for (int x = 26; x < 38; x++)
                if ((x + 0.5 - 32) * (x + 0.5 - 32) + (y + 0.5 - 32) * (y + 0.5 - 32) <= 36)
                {
                    int p = 3 * (y * 64 + x);
                    (rgb[p], rgb[p + 1], rgb[p + 2]) = (Tint(green.R), Tint(green.G), Tint(green.B));
                }
        var found = Assert.Single(RingJudge.Analyze(rgb).Objects);
        Assert.NotEqual(ShapeKind.Ring, found.Kind);
        Assert.Equal(ShapeColor.Green, found.Color);
        var templateOnly = new ShapeJudge(RingJudge.Options with { MaxRingHoleCoverage = 1.0 }); // the annulus template alone is fooled
        Assert.Equal(ShapeKind.Ring, Assert.Single(templateOnly.Analyze(rgb).Objects).Kind);
    }

    [Fact]
    public void DefaultJudge_NeverAnswersRing()
    {
        Assert.Equal(ShapeKinds.Trained, ShapeJudge.Default.Options.Kinds);
        foreach (var g in Singles(ShapeKind.Ring, 50, 35))
            Assert.All(ShapeJudge.Default.Analyze(ShapeRenderer.Render(g.Scene)).Objects, o => Assert.NotEqual(ShapeKind.Ring, o.Kind));
    }

    [Fact]
    public void Judge_NeedsTwoKinds()
    {
        Assert.Throws<ArgumentException>(() => new ShapeJudge(ShapeJudgeOptions.Default with { Kinds = [ShapeKind.Ring] }));
    }

    [Fact]
    public void Ring_HasABackgroundHoleHalfItsDiameter()
    {
        var ring = new SceneObject(ShapeKind.Ring, ShapeColor.Red, ShapeSize.Large, 32, 32, 12);
        var rgb = ShapeRenderer.Render(new Scene(new Rgb(128, 128, 128), [ring]));
        byte RedAt(int x, int y) => rgb[3 * (y * 64 + x)];
        Assert.Equal(128, RedAt(32, 32));      // hole centre
        Assert.Equal(128, RedAt(32 + 4, 32));  // inside the 6 px hole radius
        Assert.Equal(220, RedAt(32 + 8, 32));  // on the annulus (6 … 12 px)
        Assert.Equal(128, RedAt(32 + 14, 32)); // beyond the rim
        int antiAliased = Enumerable.Range(0, 64 * 64).Count(i => rgb[3 * i] is > 130 and < 218);
        Assert.InRange(antiAliased, 60, 250); // partly covered pixels along both edges
    }

    [Fact]
    public void Captions_NameAndParseRings()
    {
        var spec = new SceneSpec(new ObjectSpec(ShapeColor.Blue, ShapeKind.Ring, ShapeSize.Large, ShapePosition.Left));
        Assert.Equal("a large blue ring on the left", CaptionWriter.Write(spec));
        Assert.Equal(spec, CaptionParser.Parse("a large blue ring on the left"));
        Assert.Equal(new ObjectSpec(ShapeColor.Red, ShapeKind.Ring), CaptionParser.Parse("a red ring").Objects.Single());
        Assert.Equal(2, CaptionParser.Parse("two orange rings").Objects.Count(o => o is { Kind: ShapeKind.Ring, Color: ShapeColor.Orange }));
    }

    [Fact]
    public void DefaultGenerator_DrawsNoRings()
    {
        Assert.Equal(ShapeKinds.Trained, SceneGeneratorOptions.Default.Kinds);
        Assert.DoesNotContain(new SceneGenerator(36).Stream().Take(2000), g => g.Scene.Objects.Any(o => o.Kind == ShapeKind.Ring));
    }

    [Fact]
    public void RingDataset_IsDeterministic_OneColour_RandomPositions_Captioned()
    {
        var items = new RingDataset(ShapeColor.Purple, 7).Render(200);
        var again = new RingDataset(ShapeColor.Purple, 7).Render(200);
        Assert.Equal(items.Select(i => i.Rgb), again.Select(i => i.Rgb));
        Assert.Equal(items.Select(i => i.Item.Caption), again.Select(i => i.Item.Caption));
        Assert.All(items, i => Assert.Equal([(ShapeKind.Ring, ShapeColor.Purple)], i.Item.Scene.Objects.Select(o => (o.Kind, o.Color))));
        Assert.All(items, i => Assert.Contains("purple ring", i.Item.Caption));
        foreach (var p in new[] { ShapePosition.Left, ShapePosition.Right, ShapePosition.Top, ShapePosition.Bottom, ShapePosition.Centre })
            Assert.Contains(items, i => i.Item.Spec.Objects[0].Position == p);
        Assert.Contains(items, i => i.Item.Spec.Objects[0].Position == ShapePosition.Unspecified);
        Assert.Equal(items[150].Rgb, new RingDataset(ShapeColor.Purple, 7).Render(1, 150)[0].Rgb);
        Assert.NotEqual(items[0].Rgb, new RingDataset(ShapeColor.Purple, 8).Render(1)[0].Rgb);
    }
}
