using Easel.Inference.Pipelines;
using Easel.Inference.Schedulers;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Pipelines;

/// <summary>
/// Per-image seeds (image i of a batch = the single-image run with seed + i, bit for bit on the CPU) and the batch mode
/// (one generator in diffusers' order), on the tiny sd15 fixture.
/// </summary>
public sealed class SeedModeTests(FixturePipelines fixtures) : IClassFixture<FixturePipelines>
{
    private const long Seed = 41;

    private StableDiffusionPipeline Sd15 => (StableDiffusionPipeline)fixtures.Sd15;

    private static InputImage Pattern(int width, int height) =>
        InputImage.FromRgb(width, height, Enumerable.Range(0, width * height * 3).Select(i => (byte)(i * 7 % 251)).ToArray());

    public static TheoryData<string> Tasks => ["ddim_eta", "euler_a", "img2img_euler_a", "inpaint_ddpm"];

    /// <summary>A request of <paramref name="task"/> whose every noise draw matters (DDIM with η &gt; 0, ancestral steps, the image posterior).</summary>
    private static Inference.Pipelines.GenerationRequest Request(string task, long seed, int count, SeedMode mode) => task switch
    {
        "ddim_eta" => new TextToImageRequest("a red circle", "blurry", 64, 64, 3, 7.5, seed, "ddim", count, Eta: 0.7) { SeedMode = mode },
        "euler_a" => new TextToImageRequest("a red circle", "blurry", 64, 64, 3, 7.5, seed, "euler_a", count) { SeedMode = mode },
        "img2img_euler_a" => new ImageToImageRequest("a red circle", "", Pattern(64, 64), 0.7, 4, 7.5, seed, "euler_a", count) { SeedMode = mode },
        "inpaint_ddpm" => new InpaintRequest("a red circle", "", Pattern(64, 64),
            InputImage.FromGray(64, 64, Enumerable.Range(0, 64 * 64).Select(i => (byte)(i % 64 < 32 ? 255 : 0)).ToArray()),
            3, 7.5, seed, 0.8, "ddpm", count) { SeedMode = mode },
        _ => throw new ArgumentOutOfRangeException(nameof(task)),
    };

    private Tensor Latents(Inference.Pipelines.GenerationRequest request, INoiseSource? noise = null)
    {
        using var scheduler = Sd15.CreateScheduler(request);
        return Sd15.GenerateLatents(request, scheduler, noise ?? StableDiffusionPipeline.CreateNoiseSource(request));
    }

    [Theory]
    [MemberData(nameof(Tasks))]
    public void PerImage_ImageIOfABatch_EqualsTheSingleRunWithSeedPlusI(string task)
    {
        using var scope = torch.NewDisposeScope();
        var batch = Latents(Request(task, Seed, 3, SeedMode.PerImage));
        Assert.Equal(3, batch.shape[0]);
        for (var i = 0; i < 3; i++)
        {
            var single = Latents(Request(task, Seed + i, 1, SeedMode.PerImage));
            Assert.True(Identical(single, batch[i..(i + 1)]), $"{task}: image {i} of the batch differs from the run with seed {Seed + i}");
        }
        Assert.False(Identical(batch[0], batch[1]), "two images of a batch must not share their noise");
    }

    [Fact]
    public void PerImage_Sdxl_ImageIOfABatch_EqualsTheSingleRunWithSeedPlusI()
    {
        // SDXL's added conditions (pooled text embeds, time ids) are split per image along with the hidden states.
        using var scope = torch.NewDisposeScope();
        var sdxl = (StableDiffusionPipeline)fixtures.Sdxl;
        Tensor Run(long seed, int count)
        {
            var request = new TextToImageRequest("a lion", "blurry", 64, 64, 2, 5.0, seed, "euler_a", count);
            using var scheduler = sdxl.CreateScheduler(request);
            return sdxl.GenerateLatents(request, scheduler, StableDiffusionPipeline.CreateNoiseSource(request));
        }
        var batch = Run(Seed, 2);
        Assert.True(Identical(Run(Seed + 1, 1), batch[1..2]));
    }

    [Fact]
    public void PerImage_Images_EqualTheSingleRunsPixelForPixel()
    {
        var batch = fixtures.Sd15.Generate(Request("img2img_euler_a", Seed, 2, SeedMode.PerImage));
        var second = fixtures.Sd15.Generate(Request("img2img_euler_a", Seed + 1, 1, SeedMode.PerImage));
        Assert.Equal(second[0].Rgb, batch[1].Rgb);
    }

    [Theory]
    [MemberData(nameof(Tasks))]
    public void Batch_DrawsFromOneGeneratorInDiffusersOrder(string task)
    {
        // The tape diffusers' rng recording would hold for num_images_per_prompt = 2 with one generator: the input image's
        // posterior samples once (batch 1, repeated), everything else at the batch's size.
        using var scope = torch.NewDisposeScope();
        var request = Request(task, Seed, 2, SeedMode.Batch);
        var recorder = new RecordingNoiseSource(GeneratorNoiseSource.FromSeed(Seed));
        var latents = Latents(request, recorder);
        Assert.Contains(recorder.Shapes, s => s[0] == 2);
        if (request is not TextToImageRequest)
            Assert.Equal(1, recorder.Shapes[0][0]);

        var generator = GeneratorNoiseSource.FromSeed(Seed);
        var tape = recorder.Shapes.Select(s => generator.Next(s, float32, CPU)).ToList();
        Assert.True(Identical(Latents(request, new TapeNoiseSource(tape)), latents));
        Assert.True(Identical(Latents(request), latents), "Batch mode must be the one-generator source");
        Assert.False(Identical(Latents(request with { SeedMode = SeedMode.PerImage }), latents));
    }

    [Fact]
    public void SingleImage_BothModesAgree()
    {
        using var scope = torch.NewDisposeScope();
        Assert.True(Identical(Latents(Request("img2img_euler_a", Seed, 1, SeedMode.Batch)), Latents(Request("img2img_euler_a", Seed, 1, SeedMode.PerImage))));
    }

    [Fact]
    public void PerImageSource_RefusesADrawOfAnotherBatchSize()
    {
        var noise = PerImageNoiseSource.FromSeed(3, 2);
        Assert.Throws<InvalidOperationException>(() => noise.Next([3, 4, 8, 8], float32, CPU));
        Assert.Throws<InvalidOperationException>(() => noise.NextRepeated([1, 4, 8, 8], 3, float32, CPU));
        using var drawn = noise.Next([2, 4, 8, 8], float32, CPU);
        using var second = torch.randn([1, 4, 8, 8], generator: new Generator(4, CPU));
        Assert.True(Identical(second, drawn[1..2]));
    }

    /// <summary>Same shape and every element equal: bit for bit.</summary>
    private static bool Identical(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    /// <summary>Passes draws through and records their shapes, in order.</summary>
    private sealed class RecordingNoiseSource(INoiseSource inner) : INoiseSource
    {
        public List<long[]> Shapes { get; } = [];

        public Tensor Next(long[] shape, ScalarType dtype, Device device)
        {
            Shapes.Add(shape);
            return inner.Next(shape, dtype, device);
        }
    }
}
