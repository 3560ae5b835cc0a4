using Easel.Inference.Schedulers;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Schedulers;

public sealed class SchedulerConfigAndNoiseTests
{
    [Theory]
    [InlineData("""{"lambda_min_clipped": "-inf"}""")]
    [InlineData("""{"lambda_min_clipped": -Infinity}""")]
    [InlineData("""{"lambda_min_clipped": "-Infinity"}""")]
    public void NonFiniteLambdaMinClippedParses(string json)
    {
        Assert.Equal(double.NegativeInfinity, SchedulerConfig.Parse(json).LambdaMinClipped);
    }

    [Fact]
    public void SnakeCaseKeysMapAndUnknownKeysAreIgnored()
    {
        var c = SchedulerConfig.Parse("""{"_class_name": "EulerDiscreteScheduler", "use_karras_sigmas": true, "timestep_spacing": "trailing", "prediction_type": "v_prediction", "new_key": {"a": 1}, "note": "NaN in a string"}""");
        Assert.Equal("EulerDiscreteScheduler", c.ClassName);
        Assert.True(c.UseKarrasSigmas);
        Assert.Equal("trailing", c.TimestepSpacing);
        Assert.Equal("v_prediction", c.PredictionType);
    }

    [Fact]
    public void GeneratorSourceWithTheSameSeedGivesTheSameNoise()
    {
        var a = GeneratorNoiseSource.FromSeed(1234);
        var b = GeneratorNoiseSource.FromSeed(1234);
        using var x1 = a.Next([1, 4, 8, 8], ScalarType.Float32, CPU);
        using var x2 = a.Next([1, 4, 8, 8], ScalarType.Float32, CPU);
        using var y1 = b.Next([1, 4, 8, 8], ScalarType.Float32, CPU);
        using var y2 = b.Next([1, 4, 8, 8], ScalarType.Float32, CPU);
        Assert.True(x1.eq(y1).all().item<bool>());
        Assert.True(x2.eq(y2).all().item<bool>());
        Assert.False(x1.eq(x2).all().item<bool>());
    }

    [Fact]
    public void GeneratorSourceMatchesSeededTorchRandn()
    {
        using var expected = torch.randn([2, 3], generator: new Generator(7, CPU));
        using var actual = GeneratorNoiseSource.FromSeed(7).Next([2, 3], ScalarType.Float32, CPU);
        Assert.True(expected.eq(actual).all().item<bool>());
    }

    [Fact]
    public void TapeSourceFailsWhenExhaustedOrMisaligned()
    {
        var tape = new TapeNoiseSource([torch.zeros(2, 2)]);
        Assert.Throws<InvalidOperationException>(() => tape.Next([3], ScalarType.Float32, CPU));
        tape.Next([2, 2], ScalarType.Float32, CPU).Dispose();
        Assert.Throws<InvalidOperationException>(() => tape.Next([2, 2], ScalarType.Float32, CPU));
    }

    [Fact]
    public void EulerWithoutANoiseSourceFailsClearly()
    {
        var euler = new EulerDiscreteScheduler(SchedulerConfig.Parse("""{"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012}"""));
        euler.SetTimesteps(4);
        using var x = torch.zeros(1, 4, 2, 2);
        Assert.Throws<ArgumentNullException>(() => euler.Step(x, euler.Timesteps[0], x));
    }

    [Theory]
    [InlineData("linear")]
    [InlineData("squaredcos_cap_v2")]
    public void OtherBetaSchedulesBuildAndSample(string schedule)
    {
        using var scope = torch.NewDisposeScope();
        var ddim = new DDIMScheduler(new SchedulerConfig { BetaSchedule = schedule, TimestepSpacing = "trailing", ClipSample = false });
        ddim.SetTimesteps(5);
        var x = torch.randn([1, 4, 4, 4], generator: new Generator(1, CPU));
        foreach (var i in Enumerable.Range(0, 5))
            x = ddim.Step(0.1 * x, ddim.Timesteps[i], x).PrevSample;
        Assert.False(x.isnan().any().item<bool>());
    }
}
