using Easel.Inference.Control.ControlNet;
using Easel.Inference.Models.UNet;
using Easel.Inference.Pipelines;
using Easel.Inference.Pipelines.Denoising;
using Easel.Inference.Tests.Parity;
using Easel.Inference.Tests.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Control;

/// <summary>
/// ControlNet units in the denoising loop: start/end, guess mode, A1111's control modes, several units, batches. The
/// residuals the UNet receives are recorded by a contributor after the ControlNet extension.
/// </summary>
public sealed class ControlNetDenoisingExtensionTests(FixturePipelines fixtures) : IClassFixture<FixturePipelines>, IDisposable
{
    private const float Close = 1e-5f;

    private readonly ControlNetModel _controlNet = ControlNetModel.FromPretrained(ParityFixtures.PathOf("models/controlnet_sd15"));
    private readonly Tensor _edgeTensor = EdgeImage(seed: 5);
    private readonly Tensor _otherEdgeTensor = EdgeImage(seed: 6);

    private InputImage Edges => InputImage.FromTensor(_edgeTensor);
    private InputImage OtherEdges => InputImage.FromTensor(_otherEdgeTensor);

    private StableDiffusionPipeline Sd15 => (StableDiffusionPipeline)fixtures.Sd15;

    public void Dispose()
    {
        _controlNet.Dispose();
        _edgeTensor.Dispose();
        _otherEdgeTensor.Dispose();
    }

    private static Tensor EdgeImage(int seed)
    {
        var generator = new Generator((ulong)seed);
        return (torch.rand([1, 3, 64, 64], generator: generator) > 0.8).to(float32);
    }

    private static TextToImageRequest Text(int steps, params IDenoisingExtension[] extensions) =>
        new("a red circle", "blurry", 64, 64, steps, 7.5, 11, Scheduler: "ddim") { Extensions = extensions };

    /// <summary>The residuals of every step (null when none), as the UNet gets them.</summary>
    private List<ControlResiduals?> Recorded(int steps, params ControlNetUnit[] units)
    {
        var recorder = new ResidualRecorder();
        Sd15.Generate(Text(steps, new ControlNetDenoisingExtension(units), recorder));
        return recorder.Steps;
    }

    [Theory]
    [InlineData(0.0, 1.0, new[] { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 })]
    [InlineData(0.2, 0.5, new[] { 2, 3, 4 })]
    [InlineData(0.0, 0.35, new[] { 0, 1, 2 })]
    [InlineData(0.75, 1.0, new[] { 8, 9 })]
    public void A_unit_runs_on_the_steps_diffusers_keeps(double start, double end, int[] expected)
    {
        var unit = new ControlNetUnit(_controlNet, Edges, Start: start, End: end);
        Assert.Equal(expected, Enumerable.Range(0, 10).Where(i => unit.IsActiveAt(i, 10)));
    }

    [Fact]
    public void Steps_outside_start_and_end_get_no_residuals()
    {
        var steps = Recorded(4, new ControlNetUnit(_controlNet, Edges, Start: 0.5));
        Assert.Null(steps[0]);
        Assert.Null(steps[1]);
        Assert.NotNull(steps[2]);
        Assert.NotNull(steps[3]);
    }

    [Fact]
    public void Balanced_conditions_both_halves_of_guidance_at_the_units_scale()
    {
        var full = Recorded(1, new ControlNetUnit(_controlNet, Edges))[0]!;
        var scaled = Recorded(1, new ControlNetUnit(_controlNet, Edges, Scale: 0.5))[0]!;

        foreach (var (a, b) in All(full).Zip(All(scaled)))
        {
            Assert.Equal(2, a.shape[0]);
            Assert.True(a[0].abs().max().item<float>() > 0, "the unconditional half got no residual");
            AssertClose(a * 0.5, b);
        }
    }

    [Fact]
    public void Guess_mode_leaves_the_unconditional_half_without_residuals()
    {
        var balanced = Recorded(1, new ControlNetUnit(_controlNet, Edges))[0]!;
        var guess = Recorded(1, new ControlNetUnit(_controlNet, Edges, GuessMode: true))[0]!;
        var all = All(guess);
        var scales = torch.logspace(-1, 0, all.Count);

        for (var k = 0; k < all.Count; k++)
        {
            Assert.Equal(0f, all[k][0].abs().max().item<float>());
            AssertClose(All(balanced)[k][1] * scales[k], all[k][1]);
        }
    }

    [Fact]
    public void Prompt_more_important_scales_residual_k_of_n_by_0_825_to_the_n_minus_1_minus_k_on_both_halves()
    {
        var balanced = All(Recorded(1, new ControlNetUnit(_controlNet, Edges))[0]!);
        var soft = All(Recorded(1, new ControlNetUnit(_controlNet, Edges, Mode: ControlMode.PromptMoreImportant))[0]!);

        Assert.Equal(_controlNet.DownResidualCount + 1, soft.Count);
        for (var k = 0; k < soft.Count; k++)
            AssertClose(balanced[k] * Math.Pow(0.825, soft.Count - 1 - k), soft[k]);
    }

    [Fact]
    public void Control_more_important_adds_soft_injection_on_the_conditional_half_only()
    {
        var balanced = All(Recorded(1, new ControlNetUnit(_controlNet, Edges))[0]!);
        var control = All(Recorded(1, new ControlNetUnit(_controlNet, Edges, Mode: ControlMode.ControlMoreImportant))[0]!);

        for (var k = 0; k < control.Count; k++)
        {
            Assert.Equal(0f, control[k][0].abs().max().item<float>());
            AssertClose(balanced[k][1] * Math.Pow(0.825, control.Count - 1 - k), control[k][1]);
        }
    }

    [Fact]
    public void Several_units_add_their_residuals()
    {
        var first = All(Recorded(1, new ControlNetUnit(_controlNet, Edges, Scale: 0.7))[0]!);
        var second = All(Recorded(1, new ControlNetUnit(_controlNet, OtherEdges, Scale: 0.4))[0]!);
        var both = All(Recorded(1, new ControlNetUnit(_controlNet, Edges, Scale: 0.7), new ControlNetUnit(_controlNet, OtherEdges, Scale: 0.4))[0]!);

        for (var k = 0; k < both.Count; k++)
            AssertClose(first[k] + second[k], both[k]);
    }

    [Fact]
    public void A_controlled_image_differs_from_the_plain_one_and_a_batch_image_equals_its_single_image_run()
    {
        var unit = new ControlNetUnit(_controlNet, Edges);
        var plain = Sd15.Generate(Text(3));
        var controlled = Sd15.Generate(Text(3, new ControlNetDenoisingExtension([unit])));
        var batch = Sd15.Generate(Text(3, new ControlNetDenoisingExtension([unit])) with { NumImages = 2 });
        var second = Sd15.Generate(Text(3, new ControlNetDenoisingExtension([unit])) with { Seed = 12 });

        Assert.NotEqual(plain[0].Rgb, controlled[0].Rgb);
        Assert.Equal(controlled[0].Rgb, batch[0].Rgb);
        Assert.Equal(second[0].Rgb, batch[1].Rgb);
    }

    [Fact]
    public void A_control_image_of_another_size_than_the_output_fails_with_a_readable_reason()
    {
        using var small = torch.zeros(1, 3, 32, 32);
        var error = Assert.Throws<ArgumentException>(() => Sd15.Generate(Text(1, new ControlNetDenoisingExtension([new ControlNetUnit(_controlNet, InputImage.FromTensor(small))]))));
        Assert.Contains("must have the output size", error.Message);
    }

    [Fact]
    public void Start_not_below_end_is_refused()
    {
        Assert.Throws<ArgumentException>(() => new ControlNetDenoisingExtension([new ControlNetUnit(_controlNet, Edges, Start: 0.6, End: 0.6)]));
    }

    private static List<Tensor> All(ControlResiduals residuals) => [.. residuals.DownBlockResiduals, residuals.MidBlockResidual];

    private static void AssertClose(Tensor expected, Tensor actual)
    {
        var worst = (expected - actual).abs().max().item<float>();
        Assert.True(worst <= Close, $"differs by {worst}");
    }

    private sealed class ResidualRecorder : IUNetConditioningContributor
    {
        public List<ControlResiduals?> Steps { get; } = [];

        public UNetConditioning Contribute(DenoisingStep step, Tensor modelInput, UNetConditioning conditioning)
        {
            Steps.Add(conditioning.Control is { } c
                ? new ControlResiduals(c.DownBlockResiduals.Select(Keep).ToList(), Keep(c.MidBlockResidual))
                : null);
            return conditioning;
        }

        private static Tensor Keep(Tensor t) => t.detach().clone().DetachFromDisposeScope();
    }
}

/// <summary>A ControlNet made from a UNet to be trained: the encoder copied, the zero convolutions at zero.</summary>
public sealed class ControlNetFromUNetTests
{
    [Fact]
    public void A_controlnet_made_from_the_bundled_unet_copies_its_encoder_and_leaves_the_unet_unchanged()
    {
        var folder = Path.Combine(ParityFixtures.RepositoryRoot(), "models", "easel-shapes", "unet");
        using var unet = UNet2DConditionModel.FromPretrained(folder);
        var config = Easel.Inference.Loading.ConfigJson.Read<ControlNetConfig>(Path.Combine(folder, "config.json")) with { ConditioningEmbeddingOutChannels = [16, 32, 64] }; // 64×64 images over a 16×16 latent
        using var initialization = new Generator(1, torch.CPU);
        using var controlNet = ControlNetModel.FromUNet(unet, config, initialization);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();

        var unetWeights = unet.state_dict();
        foreach (var (name, weight) in controlNet.state_dict().Where(p => p.Key.StartsWith("down_blocks.", StringComparison.Ordinal) || p.Key.StartsWith("mid_block.", StringComparison.Ordinal)))
            Assert.True((weight - unetWeights[name]).abs().max().item<float>() == 0, $"{name} was not copied");
        torch.manual_seed(4);
        var sample = torch.randn(1, 4, 16, 16);
        var text = torch.randn(1, 8, 64);
        var timestep = torch.tensor(300L);
        var residuals = controlNet.forward(new ControlNetInput(sample, timestep, text, torch.rand(1, 3, 64, 64)));
        Assert.All(residuals.DownBlockResiduals.Append(residuals.MidBlockResidual), r => Assert.Equal(0f, r.abs().max().item<float>()));
        var plain = unet.forward(sample, timestep, text);
        var controlled = unet.forward(sample, timestep, text, new UNetConditioning(Control: residuals));
        Assert.Equal(0f, (plain - controlled).abs().max().item<float>());
    }
}
