using Easel.Inference.Models.UNet;
using Easel.Inference.Pipelines.Denoising;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Control.Gligen;

/// <summary>
/// Puts a request's grounding into every step's attention context; the fusers' β schedule is read from the context's
/// step. With guidance both halves get the same boxes and features; for text grounding the unconditional half has
/// every entity masked (null features only) as StableDiffusionGLIGENPipeline does, while
/// StableDiffusionGLIGENTextImagePipeline keeps the masks on both halves (pipe_gligen_text_image's recorded masks).
/// </summary>
/// <param name="grounding">One row of grounding (B = 1), broadcast to the step's batch.</param>
public sealed class GligenDenoisingExtension(GligenGroundingInput grounding) : IUNetConditioningContributor
{
    public UNetConditioning Contribute(DenoisingStep step, Tensor modelInput, UNetConditioning conditioning)
    {
        var rows = modelInput.shape[0];
        var conditionalRows = step.Guidance && grounding.ImageEmbeddings is null ? rows / 2 : rows;
        var batch = new GligenGroundingInput(
            Repeat(grounding.Boxes, rows),
            Masks(grounding.Masks, rows, conditionalRows),
            Repeat(grounding.PhraseEmbeddings, rows),
            grounding.PhraseMasks is { } phraseMasks ? Repeat(phraseMasks, rows) : null,
            grounding.ImageEmbeddings is { } images ? Repeat(images, rows) : null,
            grounding.ImageMasks is { } imageMasks ? Repeat(imageMasks, rows) : null,
            grounding.Beta);
        var attention = conditioning.Attention ?? step.Attention;
        return conditioning with { Attention = attention.With(batch) };
    }

    private static Tensor Repeat(Tensor row, long rows) => row.expand([rows, .. row.shape[1..]]);

    private static Tensor Masks(Tensor row, long rows, long conditionalRows)
    {
        var masks = Repeat(row, rows).clone();
        if (conditionalRows < rows)
            masks[TensorIndex.Slice(0, rows - conditionalRows)] = torch.zeros_like(masks[TensorIndex.Slice(0, rows - conditionalRows)]);
        return masks;
    }
}
