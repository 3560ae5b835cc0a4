using Easel.Inference.Control.T2IAdapter;
using Easel.Inference.Loading;
using Easel.Inference.Models.UNet;
using Easel.Inference.Pipelines;
using Easel.Inference.Pipelines.Denoising;
using Easel.Inference.Tests.Parity;
using Easel.Inference.Tests.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Control;

/// <summary>
/// T2I-Adapters: config parsing, MultiAdapter weighting, and the denoising extension (factor rule, scale, both halves of
/// guidance). The features the UNet receives are recorded by a contributor after the adapter extension.
/// </summary>
public sealed class T2IAdapterTests(FixturePipelines fixtures) : IClassFixture<FixturePipelines>, IDisposable
{
    private const float Close = 1e-6f;

    private readonly T2IAdapterModel _full = T2IAdapterModel.FromPretrained(ParityFixtures.PathOf("models/t2i_adapter_full"));
    private readonly Tensor _sketch = Image(seed: 3);
    private readonly Tensor _otherSketch = Image(seed: 4);

    private StableDiffusionPipeline Sd15 => (StableDiffusionPipeline)fixtures.Sd15;

    public void Dispose()
    {
        _full.Dispose();
        _sketch.Dispose();
        _otherSketch.Dispose();
    }

    private static Tensor Image(int seed) => torch.rand([1, 3, 64, 64], generator: new Generator((ulong)seed));

    [Fact]
    public void Config_keys_are_read_from_config_json()
    {
        var config = ConfigJson.Parse<T2IAdapterConfig>("""
            {"_class_name": "T2IAdapter", "in_channels": 1, "channels": [320, 640, 1280, 1280], "num_res_blocks": 2,
             "downscale_factor": 16, "adapter_type": "full_adapter_xl"}
            """);
        config.Validate();
        Assert.Equal("T2IAdapter", config.ClassName);
        Assert.Equal(1, config.InChannels);
        Assert.Equal([320, 640, 1280, 1280], config.Channels);
        Assert.Equal(16, config.DownscaleFactor);
        Assert.Equal(32, config.TotalDownscaleFactor);
        Assert.Equal(8 << 3, new T2IAdapterConfig().TotalDownscaleFactor);
        Assert.Equal(8 << 3, new T2IAdapterConfig { AdapterType = "light_adapter", Channels = [320, 640, 1280] }.TotalDownscaleFactor);
    }

    [Fact]
    public void An_unknown_adapter_type_is_refused_naming_it_and_the_known_ones()
    {
        var config = ConfigJson.Parse<T2IAdapterConfig>("""{"adapter_type": "medium_adapter"}""");
        var error = Assert.Throws<InvalidDataException>(() => new T2IAdapterModel(config));
        Assert.Contains("'medium_adapter'", error.Message);
        Assert.Contains("'full_adapter', 'full_adapter_xl', 'light_adapter'", error.Message);
    }

    [Fact]
    public void The_xl_layout_downsamples_only_in_its_third_block_and_the_light_one_adds_a_coarsest_feature()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var xl = new T2IAdapterModel(new T2IAdapterConfig { Channels = [8, 16, 32, 32], NumResBlocks = 1, DownscaleFactor = 4, AdapterType = "full_adapter_xl" });
        using var light = new T2IAdapterModel(new T2IAdapterConfig { Channels = [8, 16], NumResBlocks = 1, DownscaleFactor = 4, AdapterType = "light_adapter" });
        var image = torch.rand(1, 3, 32, 32);

        Assert.Equal([[1L, 8, 8, 8], [1, 16, 8, 8], [1, 32, 4, 4], [1, 32, 4, 4]], xl.forward(image).Select(f => f.shape));
        Assert.Equal([[1L, 8, 8, 8], [1, 16, 4, 4], [1, 16, 2, 2]], light.forward(image).Select(f => f.shape));
    }

    [Theory]
    [InlineData(5, 1.0, new[] { 0, 1, 2, 3, 4 })]
    [InlineData(5, 0.5, new[] { 0, 1 })]
    [InlineData(5, 0.6, new[] { 0, 1, 2 })]
    [InlineData(10, 0.35, new[] { 0, 1, 2 })]
    [InlineData(5, 0.0, new int[0])]
    public void The_first_int_of_steps_times_factor_steps_get_the_features(int total, double factor, int[] expected)
    {
        Assert.Equal(expected, Enumerable.Range(0, total).Where(i => T2IAdapterDenoisingExtension.IsActiveAt(i, total, factor)));
    }

    [Fact]
    public void MultiAdapter_sums_the_features_weighted_per_adapter_and_defaults_to_equal_weights()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var second = T2IAdapterModel.FromPretrained(ParityFixtures.PathOf("models/t2i_adapter_full"));
        var multi = new MultiAdapter([_full, second]);
        var first = _full.forward(_sketch);
        var other = second.forward(_otherSketch);

        var weighted = multi.forward([_sketch, _otherSketch], [0.7, 0.2]);
        var equal = multi.forward([_sketch, _otherSketch]);

        Assert.Equal(first.Count, weighted.Count);
        for (var i = 0; i < first.Count; i++)
        {
            AssertClose(first[i] * 0.7 + other[i] * 0.2, weighted[i]);
            AssertClose((first[i] + other[i]) * 0.5, equal[i]);
        }
    }

    [Fact]
    public void Adapters_that_downscale_differently_cannot_be_combined()
    {
        using var light = T2IAdapterModel.FromPretrained(ParityFixtures.PathOf("models/t2i_adapter_light"));
        var error = Assert.Throws<ArgumentException>(() => new MultiAdapter([_full, light]));
        Assert.Contains("downscale alike", error.Message);
        Assert.Throws<ArgumentException>(() => new T2IAdapterDenoisingExtension([new T2IAdapterUnit(_full, _sketch), new T2IAdapterUnit(light, _sketch)]));
        Assert.Throws<ArgumentException>(() => new MultiAdapter([_full]));
    }

    [Fact]
    public void Steps_after_the_factor_get_no_features_and_the_others_get_the_same_scaled_features_on_both_halves()
    {
        using var scope = torch.NewDisposeScope();
        using var extension = new T2IAdapterDenoisingExtension([new T2IAdapterUnit(_full, _sketch, Scale: 0.5)], factor: 0.5);
        var steps = Recorded(4, extension);
        using var noGrad = torch.no_grad();
        var expected = _full.forward(_sketch);

        Assert.Null(steps[2]);
        Assert.Null(steps[3]);
        foreach (var features in steps.Take(2))
        {
            Assert.NotNull(features);
            Assert.Equal(expected.Count, features.Count);
            for (var i = 0; i < expected.Count; i++)
            {
                Assert.Equal(2, features[i].shape[0]);
                AssertClose(expected[i] * 0.5, features[i][TensorIndex.Slice(0, 1)]);
                AssertClose(expected[i] * 0.5, features[i][TensorIndex.Slice(1, 2)]);
            }
        }
    }

    [Fact]
    public void An_adapted_image_differs_from_the_plain_one_and_a_batch_image_equals_its_single_image_run()
    {
        using var extension = new T2IAdapterDenoisingExtension([new T2IAdapterUnit(_full, _sketch)]);
        var plain = Sd15.Generate(Text(3));
        var adapted = Sd15.Generate(Text(3, extension));
        var batch = Sd15.Generate(Text(3, extension) with { NumImages = 2 });

        Assert.NotEqual(plain[0].Rgb, adapted[0].Rgb);
        Assert.Equal(adapted[0].Rgb, batch[0].Rgb);
    }

    [Fact]
    public void An_adapter_image_with_a_wrong_layout_is_refused()
    {
        using var gray = torch.zeros(1, 1, 64, 64);
        Assert.Throws<ArgumentException>(() => new T2IAdapterDenoisingExtension([new T2IAdapterUnit(_full, gray)]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new T2IAdapterDenoisingExtension([new T2IAdapterUnit(_full, _sketch)], factor: 1.5));
    }

    private static TextToImageRequest Text(int steps, params IDenoisingExtension[] extensions) =>
        new("a red circle", "blurry", 64, 64, steps, 7.5, 11, Scheduler: "ddim") { Extensions = extensions };

    /// <summary>The adapter features of every step (null when none), as the UNet gets them.</summary>
    private List<List<Tensor>?> Recorded(int steps, T2IAdapterDenoisingExtension extension)
    {
        var recorder = new FeatureRecorder();
        Sd15.Generate(Text(steps, extension, recorder));
        return recorder.Steps;
    }

    private static void AssertClose(Tensor expected, Tensor actual)
    {
        var worst = (expected - actual).abs().max().item<float>();
        Assert.True(worst <= Close, $"differs by {worst}");
    }

    private sealed class FeatureRecorder : IUNetConditioningContributor
    {
        public List<List<Tensor>?> Steps { get; } = [];

        public UNetConditioning Contribute(DenoisingStep step, Tensor modelInput, UNetConditioning conditioning)
        {
            Steps.Add(conditioning.DownIntrablockResiduals?.Select(f => f.detach().clone().DetachFromDisposeScope()).ToList());
            return conditioning;
        }
    }
}
