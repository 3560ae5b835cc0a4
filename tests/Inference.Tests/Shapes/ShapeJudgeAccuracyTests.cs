using Easel.Inference.Shapes;
using Xunit.Abstractions;

namespace Easel.Inference.Tests.Shapes;

public sealed class ShapeJudgeAccuracyTests(ITestOutputHelper output)
{
    /// <summary>
    /// Renders, degrades and analyzes generated scenes, then scores each analysis twice: against the full truth of the
    /// render (every object's colour, kind, size and position class, so every criterion is exercised on every image) and
    /// against the scene's own caption (what a benchmark does).
    /// </summary>
    private (JudgeTally Truth, JudgeTally Caption) Evaluate(int count, ulong seed, Func<byte[], ulong, byte[]> degrade)
    {
        var generator = new SceneGenerator(seed);
        var truthTally = new JudgeTally();
        var captionTally = new JudgeTally();
        int logged = 0;
        for (ulong i = 0; i < (ulong)count; i++)
        {
            var item = generator.Generate(i);
            var image = degrade(ShapeRenderer.Render(item.Scene), i);
            var analysis = ShapeJudge.Default.Analyze(image);
            var truth = new SceneSpec(item.Scene.Objects
                .Select(o => new ObjectSpec(o.Color, o.Kind, o.Size, ShapeLayout.Classify(o.CenterX, o.CenterY)))
                .ToArray());
            var result = ShapeJudge.Score(analysis, truth);
            truthTally.Add(result);
            captionTally.Add(ShapeJudge.Score(analysis, item.Spec));
            if (!result.AllCorrect && logged++ < 5)
                output.WriteLine($"#{i} \"{item.Caption}\" truth [{string.Join("; ", item.Scene.Objects)}] found [{string.Join("; ", analysis.Objects)}]");
        }
        output.WriteLine("truth:    " + truthTally);
        output.WriteLine("captions: " + captionTally);
        return (truthTally, captionTally);
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
        var (truth, captions) = Evaluate(2000, 1234, (img, _) => img);
        AssertRates(truth, 0.99);
        Assert.True(captions.AllCorrect.Value >= 0.99, "captions: " + captions);
        Assert.True(captions.Relation.Value >= 0.99, "captions: " + captions);
    }

    [Fact]
    public void Judge_IsAtLeast95PercentRight_OnNoisyRenders()
    {
        var (truth, _) = Evaluate(600, 99, (img, i) => ShapeImages.AddNoise(img, 8, i));
        AssertRates(truth, 0.95);
    }

    [Fact]
    public void Judge_IsAtLeast95PercentRight_OnBlurredRenders()
    {
        var (truth, _) = Evaluate(600, 77, (img, _) => ShapeImages.BoxBlur3(img));
        AssertRates(truth, 0.95);
    }

    [Fact]
    public void Judge_IsAtLeast95PercentRight_OnBlurredNoisyRenders()
    {
        var (truth, _) = Evaluate(600, 55, (img, i) => ShapeImages.AddNoise(ShapeImages.BoxBlur3(img), 8, i));
        AssertRates(truth, 0.95);
    }
}
