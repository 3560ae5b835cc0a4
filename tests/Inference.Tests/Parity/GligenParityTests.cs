using System.Text.Json;
using Easel.Inference.Control.Gligen;
using Easel.Inference.Pipelines;
using Easel.Inference.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Parity;

/// <summary>
/// GLIGEN text grounding against diffusers' StableDiffusionGLIGENPipeline: the whole pipeline, and GligenPhraseEncoder's
/// output against the conditional row of what diffusers gave its position net (mid.position_net_call0.*; row 0 is the
/// unconditional half, whose masks GligenDenoisingExtension zeroes).
/// </summary>
public sealed class GligenParityTests
{
    public static TheoryData<string> PipelineCases => ParityFixtures.PipelineCasesOfFamily("gligen_text");

    /// <summary>The whole GLIGEN text pipeline: grounding from the case's phrases, boxes and β through the extension.</summary>
    [Theory]
    [MemberData(nameof(PipelineCases))]
    [Trait("Category", "Parity")]
    public void PipelineWithGligenTextGroundingMatchesDiffusers(string caseName)
    {
        using var parity = ParityFixtures.Load(caseName);
        using var pipeline = StableDiffusionPipeline.Load(parity.ModelDir, new PipelineOptions("cpu", "float32"));
        var tokenizer = ClipTokenizer.FromPretrained(Path.Combine(parity.ModelDir, "tokenizer"));
        using var textEncoder = ClipTextModel.FromPretrained(Path.Combine(parity.ModelDir, "text_encoder"));
        var grounding = new GligenPhraseEncoder(tokenizer, textEncoder).Encode(GroundingOf(parity));
        PipelineParityTests.AssertMatchesGoldens(parity, pipeline, [new GligenDenoisingExtension(grounding)]);
    }

    private static GligenGrounding GroundingOf(ParityCase parity)
    {
        var p = parity.Params;
        return new GligenGrounding(p.GetProperty("gligen_phrases").Deserialize<string[]>()!, p.GetProperty("gligen_boxes").Deserialize<float[][]>()!,
            p.GetProperty("gligen_scheduled_sampling_beta").GetDouble());
    }

    [Fact]
    [Trait("Category", "Parity")]
    public void Phrases_and_boxes_match_the_position_net_inputs_of_diffusers()
    {
        using var parity = ParityFixtures.Load("pipe_gligen_text");
        var folder = ParityFixtures.PathOf("models/gligen_text");
        var tokenizer = ClipTokenizer.FromPretrained(Path.Combine(folder, "tokenizer"));
        using var textEncoder = ClipTextModel.FromPretrained(Path.Combine(folder, "text_encoder"));
        var grounding = GroundingOf(parity);

        using var scope = torch.NewDisposeScope();
        var input = new GligenPhraseEncoder(tokenizer, textEncoder).Encode(grounding);

        var error = (input.PhraseEmbeddings[0] - parity.Tensor("mid.position_net_call0.positive_embeddings")[1]).abs().max().item<float>();
        Console.WriteLine($"pipe_gligen_text positive_embeddings max |error| = {error:E3}");
        Assert.True(error < 1e-5f, $"positive_embeddings max |error| {error}");
        Assert.True(input.Boxes[0].allclose(parity.Tensor("mid.position_net_call0.boxes")[1], rtol: 0, atol: 1e-7));
        Assert.True(input.Masks[0].allclose(parity.Tensor("mid.position_net_call0.masks")[1], rtol: 0, atol: 0));
        Assert.Equal(grounding.Beta, input.Beta);
    }
}
