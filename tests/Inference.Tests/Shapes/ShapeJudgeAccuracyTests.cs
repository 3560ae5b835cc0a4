using Easel.Inference.Shapes;
using Xunit.Abstractions;

namespace Easel.Inference.Tests.Shapes;

public sealed class ShapeJudgeAccuracyTests(ITestOutputHelper output)
{
    /// <summary>
    /// Judges each scene against the full truth of its render (every object's colour, kind, size and position class),
    /// so every criterion is exercised on every image, not only on what the caption happened to say.
    /// </summary>
    internal static JudgeTally Evaluate(int count, ulong seed, Func<byte[], ulong, byte[]> degrade, ITestOutputHelper? log = null)
    {
        var generator = new SceneGenerator(seed);
        var tally = new JudgeTally();
        int logged = 0;
        for (ulong i = 0; i < (ulong)count; i++)
        {
            var item = generator.Generate(i);
            var image = degrade(ShapeRenderer.Render(item.Scene), i);
            var truth = new SceneSpec(item.Scene.Objects
                .Select(o => new ObjectSpec(o.Color, o.Kind, o.Size, ShapeLayout.Classify(o.CenterX, o.CenterY)))
                .ToArray());
            var result = ShapeJudge.Default.Score(image, truth);
            tally.Add(result);
            if (result.ShapeCorrect == false && log is not null && logged++ < 8)
                log.WriteLine($"#{i} \"{item.Caption}\" truth [{string.Join("; ", item.Scene.Objects)}] found [{string.Join("; ", result.Analysis.Objects)}]");
        }
        return tally;
    }

    private static void AssertRates(JudgeTally t, double min)
    {
        string msg = t.ToString();
        Assert.True(t.Color.Value >= min, msg);
        Assert.True(t.Shape.Value >= min, msg);
        Assert.True(t.Count.Value >= min, msg);
        Assert.True(t.Position.Value >= min, msg);
        Assert.True(t.Size.Value >= min, msg);
    }

    [Fact]
    public void Judge_IsAtLeast99PercentRight_OnCleanRenders()
    {
        var tally = Evaluate(2000, 1234, (img, _) => img, output);
        output.WriteLine(tally.ToString());
        AssertRates(tally, 0.99);
    }

    [Fact]
    public void Judge_IsAtLeast95PercentRight_OnNoisyRenders()
    {
        var tally = Evaluate(1000, 99, (img, i) => ShapeImages.AddNoise(img, 8, i), output);
        output.WriteLine(tally.ToString());
        AssertRates(tally, 0.95);
    }

    [Fact]
    public void Judge_IsAtLeast95PercentRight_OnBlurredRenders()
    {
        var tally = Evaluate(1000, 77, (img, _) => ShapeImages.BoxBlur3(img), output);
        output.WriteLine(tally.ToString());
        AssertRates(tally, 0.95);
    }

    [Fact]
    public void Judge_IsAtLeast95PercentRight_OnBlurredNoisyRenders()
    {
        var tally = Evaluate(1000, 55, (img, i) => ShapeImages.AddNoise(ShapeImages.BoxBlur3(img), 8, i), output);
        output.WriteLine(tally.ToString());
        AssertRates(tally, 0.95);
    }
}
