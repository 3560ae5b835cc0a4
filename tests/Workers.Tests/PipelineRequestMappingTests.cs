using Easel.Core.Generation;
using Easel.Core.Jobs;
using Easel.Core.Storage;
using Easel.Inference.Pipelines;
using Easel.Workers.Generation;
using Easel.Workers.Jobs;
using Microsoft.Extensions.DependencyInjection;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using InputImageDecoder = Easel.Core.Images.InputImageDecoder;

namespace Easel.Workers.Tests;

/// <summary>Core's stored request becomes the inference request of the same mode, with its inputs read from the blob store.</summary>
public sealed class PipelineRequestMappingTests
{
    private static GenerationParameters Parameters(GenerationMode mode, StoredInputImage? image = null, StoredInputImage? mask = null, double? strength = null) =>
        new("a red circle", "blurry", "good", 16, 8, 4, 7.5, 1234, "dpmpp_2m_karras", 1, mode, strength, image, mask);

    private static async Task<StoredInputImage> StoreAsync(RunnerHarness harness, Image image, bool grayscale)
    {
        using var stream = new MemoryStream();
        await image.SaveAsPngAsync(stream);
        var (decoded, problem) = InputImageDecoder.Decode(stream.ToArray(), grayscale, 1 << 20, 1 << 20);
        Assert.Null(problem);
        var blob = await harness.Services.GetRequiredService<IBlobStore>().PutAsync(decoded!.Png);
        return new StoredInputImage(blob.Key, decoded.Width, decoded.Height);
    }

    private static GenerationRunner Runner(IServiceScope scope) => (GenerationRunner)scope.ServiceProvider.GetServices<IJobKindRunner>().Single(k => k.Kind == Core.Jobs.JobKind.Generation);

    [Fact]
    public async Task Text_to_image_keeps_size_scheduler_and_seed()
    {
        await using var harness = new RunnerHarness();
        using var scope = harness.Services.CreateScope();

        var request = Assert.IsType<TextToImageRequest>(Runner(scope).ToPipelineRequest(Parameters(GenerationMode.TextToImage)));

        Assert.Equal((16, 8, 4, 1234L, "dpmpp_2m_karras"), (request.Width, request.Height, request.Steps, request.Seed, request.Scheduler));
    }

    [Theory]
    [InlineData(Core.Generation.SeedMode.PerImage, Inference.Pipelines.SeedMode.PerImage)]
    [InlineData(Core.Generation.SeedMode.Batch, Inference.Pipelines.SeedMode.Batch)]
    public async Task Seed_mode_is_passed_to_the_pipeline(Core.Generation.SeedMode stored, Inference.Pipelines.SeedMode expected)
    {
        await using var harness = new RunnerHarness();
        using var scope = harness.Services.CreateScope();

        var request = Runner(scope).ToPipelineRequest(Parameters(GenerationMode.TextToImage) with { SeedMode = stored });

        Assert.Equal(expected, request.SeedMode);
    }

    [Fact]
    public async Task Inpaint_reads_the_stored_image_as_rgb_and_the_mask_as_gray()
    {
        await using var harness = new RunnerHarness();
        using var rgb = new Image<Rgb24>(16, 8, new Rgb24(200, 100, 50));
        using var gray = new Image<L8>(16, 8, new L8(255));
        var image = await StoreAsync(harness, rgb, grayscale: false);
        var mask = await StoreAsync(harness, gray, grayscale: true);
        using var scope = harness.Services.CreateScope();

        var request = Assert.IsType<InpaintRequest>(Runner(scope).ToPipelineRequest(Parameters(GenerationMode.Inpaint, image, mask, 0.75)));

        Assert.Equal((16, 8, 3), (request.Image.Width, request.Image.Height, request.Image.Channels));
        Assert.Equal((16, 8, 1), (request.Mask.Width, request.Mask.Height, request.Mask.Channels));
        Assert.Equal(0.75, request.Strength);
    }

    [Fact]
    public async Task Image_to_image_carries_the_strength()
    {
        await using var harness = new RunnerHarness();
        using var rgb = new Image<Rgb24>(16, 8);
        var image = await StoreAsync(harness, rgb, grayscale: false);
        using var scope = harness.Services.CreateScope();

        var request = Assert.IsType<ImageToImageRequest>(Runner(scope).ToPipelineRequest(Parameters(GenerationMode.ImageToImage, image, strength: 0.3)));

        Assert.Equal((0.3, 16, 8), (request.Strength, request.Image.Width, request.Image.Height));
    }

    [Fact]
    public async Task Job_whose_input_blob_is_gone_fails_with_a_readable_reason()
    {
        await using var harness = new RunnerHarness();
        var job = Job.Create(JobKind.Generation,
            Parameters(GenerationMode.ImageToImage, new StoredInputImage(new string('0', 64), 16, 8), strength: 0.5), DateTimeOffset.UtcNow);
        await harness.WithDbAsync(async db =>
        {
            db.Jobs.Add(job);
            return await db.SaveChangesAsync();
        });

        await harness.RunAsync(job.Id);

        var failed = await harness.JobAsync(job.Id);
        Assert.Equal(JobStatus.Failed, failed.Status);
        Assert.Contains("no longer stored", failed.Error);
        Assert.Equal(0, harness.Loader.Calls);
    }
}
