using Easel.Inference.Pipelines;
using Easel.Inference.Tests.Parity;
using TorchSharp;
using Xunit.Abstractions;

namespace Easel.Inference.Tests.Pipelines;

/// <summary>
/// 100 tiny text-to-image generations on the sd15 fixture model must not leave tensors behind: TorchSharp's per-thread
/// dispose-scope statistics (exact live count since 0.104) may not grow after warm-up.
/// </summary>
public sealed class MemoryStabilityTests(ITestOutputHelper output)
{
    [Fact]
    public void HundredGenerations_KeepTheLiveTensorCountFlat()
    {
        using var pipeline = StableDiffusionPipeline.Load(ParityFixtures.PathOf("models/sd15"), new PipelineOptions("cpu", "float32"));
        var stats = DisposeScopeManager.Statistics;
        TextToImageRequest Request(int i) => new("a red circle", "blurry", 32, 32, 2, 7.5, i, Scheduler: i % 2 == 0 ? "ddim" : "Euler a");

        for (var i = 0; i < 3; i++)
            pipeline.Generate(Request(i));
        var warmLive = stats.ThreadTotalLiveCount;
        var warmCreatedOutside = stats.CreatedOutsideScopeCount;
        var warmCreatedIn = stats.CreatedInScopeCount;
        output.WriteLine($"after warm-up (3 generations): {stats}");

        const int generations = 100;
        for (var i = 0; i < generations; i++)
            pipeline.Generate(Request(100 + i));
        var live = stats.ThreadTotalLiveCount;
        output.WriteLine($"after {generations} more generations: {stats}");
        output.WriteLine($"live tensors: {warmLive} after warm-up → {live} after {generations} generations; " +
                         $"created in scopes during the run {stats.CreatedInScopeCount - warmCreatedIn}, outside scopes {stats.CreatedOutsideScopeCount - warmCreatedOutside}");
        Assert.Equal(warmLive, live);
        Assert.Equal(warmCreatedOutside, stats.CreatedOutsideScopeCount);
    }
}
