using Easel.Inference.Models.Vae;
using Easel.Inference.Pipelines;
using Easel.Inference.Schedulers;
using Easel.Inference.Tests.Parity;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Pipelines;

/// <summary>The fixture pipelines, loaded once for the behaviour tests.</summary>
public sealed class FixturePipelines : IDisposable
{
    private readonly Lazy<IDiffusionPipeline> _sd15 = new(() => Load("models/sd15"));
    private readonly Lazy<IDiffusionPipeline> _sdxl = new(() => Load("models/sdxl"));

    public IDiffusionPipeline Sd15 => _sd15.Value;
    public IDiffusionPipeline Sdxl => _sdxl.Value;

    public static IDiffusionPipeline Load(string folder) =>
        DiffusionPipelines.Load(ParityFixtures.PathOf(folder), new PipelineOptions("cpu", "float32"));

    public void Dispose()
    {
        if (_sd15.IsValueCreated) _sd15.Value.Dispose();
        if (_sdxl.IsValueCreated) _sdxl.Value.Dispose();
    }
}

/// <summary>Request validation, determinism, few-step use and loading, on the tiny fixture models (no goldens).</summary>
public sealed class PipelineBehaviourTests(FixturePipelines fixtures) : IClassFixture<FixturePipelines>
{
    private static InputImage Gray(int width, int height, byte value = 128) =>
        InputImage.FromRgb(width, height, Enumerable.Repeat(value, width * height * 3).ToArray());

    private static InputImage Mask(int width, int height, byte value) =>
        InputImage.FromGray(width, height, Enumerable.Repeat(value, width * height).ToArray());

    private static TextToImageRequest Text(int steps = 2, long seed = 7) =>
        new("a red circle", "blurry", 64, 64, steps, 7.5, seed, Scheduler: "ddim");

    [Fact]
    public void ImageToImage_Rejects_StrengthZero()
    {
        var request = new ImageToImageRequest("a red circle", "", Gray(64, 64), 0.0, 4, 7.5, 1);
        var error = Assert.Throws<ArgumentException>(() => fixtures.Sd15.ImageToImage(request));
        Assert.Contains("Strength", error.Message);
    }

    [Fact]
    public void ImageToImage_Rejects_StrengthTooSmallToLeaveAStep()
    {
        var request = new ImageToImageRequest("a red circle", "", Gray(64, 64), 0.1, 4, 7.5, 1);
        var error = Assert.Throws<ArgumentException>(() => fixtures.Sd15.ImageToImage(request));
        Assert.Contains("no denoising step", error.Message);
    }

    [Fact]
    public void ImageToImage_Rejects_ImageSizeNotAMultipleOfTheVaeFactor()
    {
        var request = new ImageToImageRequest("a red circle", "", Gray(63, 64), 0.5, 4, 7.5, 1);
        var error = Assert.Throws<ArgumentException>(() => fixtures.Sd15.ImageToImage(request));
        Assert.Contains($"multiples of {fixtures.Sd15.VaeScaleFactor}", error.Message);
    }

    [Fact]
    public void Inpaint_Rejects_MaskOfAnotherSize()
    {
        var request = new InpaintRequest("a red circle", "", Gray(64, 64), Mask(32, 64, 255), 4, 7.5, 1);
        var error = Assert.Throws<ArgumentException>(() => fixtures.Sd15.Inpaint(request));
        Assert.Contains("mask", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void InputImage_Rejects_PixelBufferOfTheWrongLength() =>
        Assert.Throws<ArgumentException>(() => InputImage.FromRgb(4, 4, new byte[4 * 4 * 3 - 1]));

    [Fact]
    public void TextToImage_SameSeed_GivesIdenticalBytes_AndAnotherSeedDoesNot()
    {
        var first = fixtures.Sd15.TextToImage(Text(seed: 11));
        var second = fixtures.Sd15.TextToImage(Text(seed: 11));
        var other = fixtures.Sd15.TextToImage(Text(seed: 12));
        Assert.Equal(first[0].Rgb, second[0].Rgb);
        Assert.NotEqual(first[0].Rgb, other[0].Rgb);
    }

    [Fact]
    public void ImageToImage_SameSeed_GivesIdenticalBytes()
    {
        var request = new ImageToImageRequest("a red circle", "blurry", Gray(64, 64), 0.5, 4, 7.5, 3, Scheduler: "Euler a");
        Assert.Equal(fixtures.Sd15.ImageToImage(request)[0].Rgb, fixtures.Sd15.ImageToImage(request)[0].Rgb);
    }

    [Theory]
    [InlineData("sd15", 1)]
    [InlineData("sd15", 4)]
    [InlineData("sdxl", 1)]
    [InlineData("sdxl", 4)]
    public void TurboStyle_FewTrailingStepsWithoutGuidance_GiveAFiniteImage(string family, int steps)
    {
        var pipeline = family == "sdxl" ? fixtures.Sdxl : fixtures.Sd15;
        var request = new TextToImageRequest("a red circle", "", 64, 64, steps, 0.0, 5, Scheduler: "Euler a") { TimestepSpacing = "trailing" };
        var progress = new List<DenoisingProgress>();
        using var scope = torch.NewDisposeScope();
        var sd = (StableDiffusionPipeline)pipeline;
        var scheduler = sd.CreateScheduler(request);
        var latents = sd.GenerateLatents(request, scheduler, GeneratorNoiseSource.FromSeed(5), progress: new SyncProgress(progress));
        Assert.Equal(steps, progress.Count);
        Assert.Equal(999, scheduler.Timesteps[0].to(float64).item<double>(), 0.5); // trailing spacing starts at the last training step
        Assert.True(torch.isfinite(sd.Decode(latents)).all().item<bool>());
        var image = pipeline.TextToImage(request);
        Assert.Equal(64 * 64 * 3, image[0].Rgb.Length);
    }

    [Fact]
    public void Sdxl_ImageToImageAndInpaint_GiveFiniteImagesOfTheInputSize()
    {
        var image = Gray(64, 48);
        var toImage = fixtures.Sdxl.ImageToImage(new ImageToImageRequest("a lion", "", image, 0.5, 2, 5.0, 4));
        var inpainted = fixtures.Sdxl.Inpaint(new InpaintRequest("a lion", "", image, Mask(64, 48, 255), 2, 5.0, 4, Strength: 0.75));
        Assert.All(new[] { toImage[0], inpainted[0] }, result =>
        {
            Assert.Equal((64, 48), (result.Width, result.Height));
            Assert.Equal(64 * 48 * 3, result.Rgb.Length);
        });
    }

    [Fact]
    public void Inpaint_OnAnOrdinaryUNet_WithAnEmptyMask_KeepsTheImageLatents()
    {
        // Mask 0 everywhere: latent blending puts back the clean image latents after the last step, which are
        // scaling_factor · (mean + std·ε) with ε the first draw of the seed's generator.
        var image = InputImage.FromRgb(64, 64, Enumerable.Range(0, 64 * 64 * 3).Select(i => (byte)(i * 7 % 251)).ToArray());
        var request = new InpaintRequest("a red circle", "blurry", image, Mask(64, 64, 0), 3, 7.5, 9, Scheduler: "ddim");
        using var scope = torch.NewDisposeScope();
        var sd = (StableDiffusionPipeline)fixtures.Sd15;
        var latents = sd.GenerateLatents(request, sd.CreateScheduler(request), GeneratorNoiseSource.FromSeed(9));

        using var vae = AutoencoderKL.FromPretrained(ParityFixtures.PathOf("models/sd15/vae"));
        using var noGrad = torch.no_grad();
        using var posterior = vae.Encode(image.ToRgbTensor(CPU) * 2 - 1);
        var eps = torch.randn(posterior.Mean.shape, generator: new Generator(9, CPU));
        var expected = posterior.Sample(eps) * vae.Config.ScalingFactor;
        Assert.True(torch.allclose(expected, latents, rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void Load_PicksTheFamilyFromTheFolder()
    {
        Assert.Equal("sd15", fixtures.Sd15.Family);
        Assert.Equal("sdxl", fixtures.Sdxl.Family);
        using var inpaint = FixturePipelines.Load("models/sd15_inpaint");
        Assert.True(inpaint.IsInpaintingModel);
        Assert.False(fixtures.Sd15.IsInpaintingModel);
    }

    [Fact]
    public void Load_Refuses_AnUnsupportedPipelineClass()
    {
        // Text-image grounding needs the CLIP image encoder, which is not built yet; text grounding loads.
        var error = Assert.Throws<NotSupportedException>(() => FixturePipelines.Load("models/gligen_text_image"));
        Assert.Contains("GLIGENTextImage", error.Message);
        using var textGrounded = FixturePipelines.Load("models/gligen_text");
    }

    [Fact]
    public void InpaintingModel_Refuses_ATextToImageRequest() =>
        Assert.Throws<NotSupportedException>(() =>
        {
            using var inpaint = FixturePipelines.Load("models/sd15_inpaint");
            inpaint.TextToImage(Text());
        });

    /// <summary>Reports synchronously (Progress&lt;T&gt; posts to the thread pool).</summary>
    private sealed class SyncProgress(List<DenoisingProgress> sink) : IProgress<DenoisingProgress>
    {
        public void Report(DenoisingProgress value) => sink.Add(value);
    }
}
