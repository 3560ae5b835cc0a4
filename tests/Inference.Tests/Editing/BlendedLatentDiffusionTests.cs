using Easel.Inference.Editing;
using Easel.Inference.Editing.BlendedLatentDiffusion;
using Easel.Inference.Pipelines;
using Easel.Inference.Shapes;
using Easel.Inference.Tests.Parity;
using TorchSharp;

namespace Easel.Inference.Tests.Editing;

public sealed class BlendedLatentMaskTests
{
    [Fact]
    public void A_box_mask_keeps_the_latent_cells_it_covers_at_least_half()
    {
        var mask = torch.zeros(1, 1, 64, 64, dtype: torch.@bool);
        mask[.., .., 16..48, 18..48] = torch.tensor(true); // columns 18–47: cell 4 (16–19) is half covered
        using var cells = BlendedLatents.LatentMask(mask, 4);

        var expected = torch.zeros(1, 1, 16, 16);
        expected[.., .., 4..12, 4..12] = torch.tensor(1f);
        Assert.True(cells.equal(expected).all().item<bool>());
    }

    [Fact]
    public void A_line_thinner_than_a_latent_cell_is_kept_rather_than_lost()
    {
        var mask = torch.zeros(1, 1, 64, 64, dtype: torch.@bool);
        mask[.., .., 8..56, 21] = torch.tensor(true); // one pixel wide: no cell is half covered
        using var cells = BlendedLatents.LatentMask(mask, 4);

        Assert.Equal(12f, cells.sum().item<float>());
        Assert.Equal(12f, cells[0, 0, 2..14, 5].sum().item<float>());
    }
}

/// <summary>Blended Latent Diffusion on the bundled model: the region under the mask is redrawn, the rest is the input's.</summary>
public sealed class BlendedLatentDiffusionTests : IClassFixture<BundledPipeline>
{
    private readonly StableDiffusionPipeline _pipeline;
    private readonly byte[] _scene;
    private readonly byte[] _mask;

    public BlendedLatentDiffusionTests(BundledPipeline bundled)
    {
        _pipeline = bundled.Pipeline;
        var scene = new SceneGenerator(4242).Generate(3).Scene;
        _scene = ShapeRenderer.Render(scene);
        var (left, top, right, bottom) = scene.Objects[0].Bounds;
        _mask = new byte[64 * 64];
        for (var y = 0; y < 64; y++)
            for (var x = 0; x < 64; x++)
                _mask[y * 64 + x] = x >= left - 4 && x < right + 4 && y >= top - 4 && y < bottom + 4 ? (byte)255 : (byte)0;
    }

    private BlendedLatentDiffusionEdit Edit(BackgroundTreatment background, long seed = 7) => new(
        new InpaintRequest("a blue square", "", InputImage.FromRgb(64, 64, _scene), InputImage.FromGray(64, 64, _mask), 8, 7.5, seed), background,
        new DecoderOptimization(Steps: 20, LearningRate: 1e-3));

    [Fact]
    public void Pixel_blend_gives_the_input_bytes_outside_the_feathered_mask_and_a_new_drawing_inside()
    {
        var edit = Edit(BackgroundTreatment.PixelBlend);
        var image = edit.Run(_pipeline).Single();

        using var feather = PixelBlend.Feathered(edit.EditedRegion(_pipeline.VaeScaleFactor), BlendedLatentDiffusionEdit.FeatherCells * _pipeline.VaeScaleFactor);
        var weights = feather.reshape(-1).data<float>().ToArray();
        for (var i = 0; i < image.Rgb.Length; i++)
            if (weights[i / 3] == 0)
                Assert.Equal(_scene[i], image.Rgb[i]);
        var inside = _mask.Select(m => m >= 128).ToArray();
        Assert.True(EditEffects.Psnr(image.Rgb, _scene, inside) < 25, "the masked region was not redrawn");
    }

    [Fact]
    public void The_same_request_and_seed_give_the_same_pixels_and_another_seed_other_pixels()
    {
        var first = Edit(BackgroundTreatment.None).Run(_pipeline).Single();
        var again = Edit(BackgroundTreatment.None).Run(_pipeline).Single();
        var other = Edit(BackgroundTreatment.None, seed: 8).Run(_pipeline).Single();

        Assert.Equal(first.Rgb, again.Rgb);
        Assert.NotEqual(first.Rgb, other.Rgb);
    }

    [Fact]
    public void Decoder_optimization_decodes_the_background_closer_to_the_input_than_the_plain_decoder()
    {
        var outside = EditEffects.Outside(_mask);
        var plain = Edit(BackgroundTreatment.None).Run(_pipeline).Single();
        var tuned = Edit(BackgroundTreatment.DecoderOptimization).Run(_pipeline).Single();

        Assert.True(EditEffects.Psnr(tuned.Rgb, _scene, outside) > EditEffects.Psnr(plain.Rgb, _scene, outside) + 0.5);
    }
}

/// <summary>The bundled shapes model on the CPU in float32, loaded once for a test class.</summary>
public sealed class BundledPipeline : IDisposable
{
    public StableDiffusionPipeline Pipeline { get; } =
        StableDiffusionPipeline.Load(Path.Combine(ParityFixtures.RepositoryRoot(), "models", "easel-shapes"), new PipelineOptions("cpu", "float32"));

    public void Dispose() => Pipeline.Dispose();
}
