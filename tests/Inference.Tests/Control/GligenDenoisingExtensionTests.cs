using Easel.Inference.Control.Gligen;
using Easel.Inference.Models;
using Easel.Inference.Models.UNet;
using Easel.Inference.Pipelines;
using Easel.Inference.Pipelines.Denoising;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Control;

/// <summary>
/// What GligenDenoisingExtension hands the UNet each step: one grounding row broadcast to the step's batch, the
/// unconditional half masked for text grounding as diffusers' StableDiffusionGLIGENPipeline does (pipe_gligen_text's
/// recorded position_net masks: row 0 all zero, row 1 ones for the two phrases) and unmasked for text-image grounding
/// (pipe_gligen_text_image's rows are equal).
/// </summary>
public sealed class GligenDenoisingExtensionTests
{
    private static GligenGroundingInput Grounding()
    {
        var masks = torch.zeros(1, 30);
        masks[0, TensorIndex.Slice(0, 2)] = torch.ones(2);
        return new GligenGroundingInput(torch.rand(1, 30, 4), masks, torch.randn(1, 30, 32), Beta: 0.5);
    }

    private static DenoisingStep Step(int index, double guidanceScale) => new(index, torch.arange(5, 0, -1), null!,
        new TextToImageRequest("a birthday party", "blurry", 64, 64, 5, guidanceScale, 1), null!, null!,
        new AttentionContext(index, 5), (_, _, _, _) => throw new InvalidOperationException("the extension runs no UNet call"));

    private static GligenGroundingInput Contributed(GligenGroundingInput grounding, int index, double guidanceScale, long rows)
    {
        var conditioning = new GligenDenoisingExtension(grounding).Contribute(Step(index, guidanceScale), torch.zeros(rows, 4, 8, 8), new UNetConditioning());
        return conditioning.Attention!.Get<GligenGroundingInput>()!;
    }

    [Fact]
    public void With_guidance_the_unconditional_rows_ground_on_no_entity()
    {
        using var scope = torch.NewDisposeScope();
        var grounding = Grounding();
        var batch = Contributed(grounding, 0, 7.5, rows: 2);
        Assert.Equal(0f, batch.Masks[0].abs().sum().item<float>());
        Assert.True(batch.Masks[1].allclose(grounding.Masks[0], rtol: 0, atol: 0));
    }

    [Fact]
    public void With_guidance_both_halves_get_the_same_boxes_and_phrases()
    {
        using var scope = torch.NewDisposeScope();
        var grounding = Grounding();
        var batch = Contributed(grounding, 0, 7.5, rows: 4);
        Assert.Equal([4L, 30, 4], batch.Boxes.shape);
        for (var row = 0; row < 4; row++)
        {
            Assert.True(batch.Boxes[row].allclose(grounding.Boxes[0], rtol: 0, atol: 0));
            Assert.True(batch.PhraseEmbeddings[row].allclose(grounding.PhraseEmbeddings[0], rtol: 0, atol: 0));
        }
        Assert.Equal(0f, batch.Masks[TensorIndex.Slice(0, 2)].abs().sum().item<float>());
        Assert.True(batch.Masks[TensorIndex.Slice(2, 4)].allclose(grounding.Masks.expand(2, 30), rtol: 0, atol: 0));
    }

    [Fact]
    public void With_guidance_text_image_grounding_keeps_its_masks_on_both_halves()
    {
        using var scope = torch.NewDisposeScope();
        var text = Grounding();
        var grounding = text with { PhraseMasks = text.Masks, ImageEmbeddings = torch.randn(1, 30, 32), ImageMasks = text.Masks };
        var batch = Contributed(grounding, 0, 7.5, rows: 2);
        Assert.True(batch.Masks.allclose(grounding.Masks.expand(2, 30), rtol: 0, atol: 0));
        Assert.True(batch.ImageMasks!.allclose(grounding.Masks.expand(2, 30), rtol: 0, atol: 0));
    }

    [Fact]
    public void Without_guidance_every_row_keeps_its_entities()
    {
        using var scope = torch.NewDisposeScope();
        var grounding = Grounding();
        var batch = Contributed(grounding, 0, 1.0, rows: 2);
        Assert.True(batch.Masks.allclose(grounding.Masks.expand(2, 30), rtol: 0, atol: 0));
    }

    [Fact]
    public void The_grounding_keeps_its_beta_and_the_step_so_the_fusers_close_after_int_beta_n_steps()
    {
        using var scope = torch.NewDisposeScope();
        var grounding = Grounding();
        var conditioning = new GligenDenoisingExtension(grounding).Contribute(Step(3, 7.5), torch.zeros(2, 4, 8, 8), new UNetConditioning());
        Assert.Equal(3, conditioning.Attention!.StepIndex);
        Assert.Equal(5, conditioning.Attention.TotalSteps);
        Assert.Equal(0.5, conditioning.Attention.Get<GligenGroundingInput>()!.Beta);
        var tokens = new GligenGroundingTokens(torch.zeros(1, 30, 8), Beta: 0.5);
        Assert.Equal([0, 1], Enumerable.Range(0, 5).Where(i => tokens.ActiveAt(i, 5)).ToArray());
    }
}
