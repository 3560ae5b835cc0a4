using Easel.Inference.Imaging;
using Easel.Inference.Pipelines;
using Easel.Inference.Tests.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.ImageEncoding;

public sealed class LatentPreviewTests(FixturePipelines fixtures) : IClassFixture<FixturePipelines>
{
    private static readonly LatentFormat Sd15 = new("sd15", 4, 0.18215);

    [Fact]
    public void Sd15_projection_applies_the_linear_factors_per_latent_cell()
    {
        using var scope = torch.NewDisposeScope();
        var latents = torch.zeros(1, 4, 2, 3);
        latents[0, 0, 1, 2] = torch.tensor(1f); // channel 0 at (row 1, column 2): R,G,B = 0.3512, 0.2297, 0.3227

        var image = LatentPreview.ToImage(latents, Sd15);

        Assert.Equal((3, 2), (image.Width, image.Height));
        byte Expected(double v) => (byte)Math.Round((v + 1) / 2 * 255, MidpointRounding.ToEven);
        Assert.Equal(new[] { Expected(0), Expected(0), Expected(0) }, image.Rgb[..3]); // zero latents are mid-gray
        var cell = (1 * 3 + 2) * 3;
        Assert.Equal(new[] { Expected(0.3512), Expected(0.2297), Expected(0.3227) }, image.Rgb[cell..(cell + 3)]);
    }

    [Theory]
    [InlineData("sd15", 4, 0.18215, "sd15")]
    [InlineData("sd2", 4, 0.18215, "sd15")]
    [InlineData("sdxl", 4, 0.13025, "sdxl")]
    [InlineData("sd15", 4, 0.66629, "normalized")] // the bundled model's own VAE: the SD factors do not fit it
    [InlineData("sd15", 16, 0.18215, "normalized")]
    public void Factors_are_used_only_for_the_vae_they_were_fitted_to(string family, int channels, double scaling, string expected) =>
        Assert.Equal(expected, LatentPreview.ProjectionOf(new LatentFormat(family, channels, scaling)));

    [Fact]
    public void Fallback_stretches_each_of_the_first_three_channels_to_the_full_range()
    {
        using var scope = torch.NewDisposeScope();
        var latents = torch.arange(0, 6 * 4, dtype: float32).reshape(1, 6, 2, 2); // 6 channels: not an SD latent space

        var image = LatentPreview.ToImage(latents, new LatentFormat("sd15", 6, 0.18215));

        Assert.Equal((2, 2), (image.Width, image.Height));
        Assert.Equal(new byte[] { 0, 0, 0 }, image.Rgb[..3]);
        Assert.Equal(new byte[] { 255, 255, 255 }, image.Rgb[^3..]);
    }

    [Fact]
    public void Pipeline_reports_the_current_latents_and_their_format_at_every_step()
    {
        var shapes = new List<(int Step, long[] Shape, LatentFormat? Format, int PreviewWidth)>();
        var progress = new SyncProgress(p =>
            shapes.Add((p.Step, p.Latents!.shape, p.LatentFormat, LatentPreview.ToImage(p.Latents, p.LatentFormat!).Width)));

        fixtures.Sd15.TextToImage(new TextToImageRequest("a red circle", "", 64, 64, 3, 7.5, 1, Scheduler: "ddim"), progress);

        Assert.Equal([1, 2, 3], shapes.Select(s => s.Step));
        var factor = fixtures.Sd15.VaeScaleFactor;
        Assert.All(shapes, s =>
        {
            Assert.Equal(new long[] { 1, 4, 64 / factor, 64 / factor }, s.Shape);
            Assert.Equal(("sd15", 4), (s.Format!.Family, s.Format.Channels));
            Assert.Equal(64 / factor, s.PreviewWidth);
        });
    }

    private sealed class SyncProgress(Action<DenoisingProgress> report) : IProgress<DenoisingProgress>
    {
        public void Report(DenoisingProgress value) => report(value);
    }
}
