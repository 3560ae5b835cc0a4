using System.Diagnostics;
using Easel.Inference.Shapes;
using Xunit.Abstractions;

namespace Easel.Inference.Tests.Shapes;

public sealed class ShapeSpeedTests(ITestOutputHelper output)
{
    [Fact]
    public void RendererAndJudge_Throughput_IsReported()
    {
        var gen = new SceneGenerator(5);
        var items = Enumerable.Range(0, 1000).Select(i => gen.Generate((ulong)i)).ToArray();
        var buffer = new byte[64 * 64 * 3];
        foreach (var it in items.Take(50)) ShapeRenderer.Render(it.Scene, buffer); // warm-up
        var sw = Stopwatch.StartNew();
        foreach (var it in items) ShapeRenderer.Render(it.Scene, buffer);
        double renderPerSec = items.Length / sw.Elapsed.TotalSeconds;
        sw.Restart();
        for (ulong i = 0; i < 1000; i++) gen.Generate(i);
        double genPerSec = 1000 / sw.Elapsed.TotalSeconds;
        var images = items.Take(300).Select(it => ShapeRenderer.Render(it.Scene)).ToArray();
        sw.Restart();
        for (int i = 0; i < images.Length; i++) ShapeJudge.Default.Score(images[i], items[i].Spec);
        double judgePerSec = images.Length / sw.Elapsed.TotalSeconds;
        output.WriteLine($"render {renderPerSec:F0}/s, generate {genPerSec:F0}/s, judge {judgePerSec:F0}/s");
        Assert.True(renderPerSec > 1000, $"render {renderPerSec:F0}/s, generate {genPerSec:F0}/s, judge {judgePerSec:F0}/s");
    }
}
