using Easel.Inference.Guidance.StructuredDiffusion;
using Easel.Inference.Pipelines;
using Easel.Inference.Tests.Editing;

namespace Easel.Inference.Tests.Guidance;

/// <summary>Structured Diffusion Guidance on the bundled model.</summary>
public sealed class StructuredDiffusionTests(BundledPipeline bundled) : IClassFixture<BundledPipeline>
{
    private const string Prompt = "a red circle and a blue square";
    private static readonly TextToImageRequest Request = new(Prompt, "", 64, 64, 6, 7.5, 31);

    private byte[] Render(params StructuredDiffusionExtension[] extensions) =>
        bundled.Pipeline.Generate(Request with { Extensions = extensions })[0].Rgb;

    [Fact]
    public void Phrases_resolve_to_the_token_positions_of_their_words()
    {
        var spans = PhraseSpan.Resolve(bundled.Pipeline.Tokenizer, Prompt, null);

        Assert.Equal(["a red circle", "a blue square"], spans.Select(s => s.Text));
        Assert.Equal([1, 2, 3], spans[0].Positions);
        Assert.Equal([5, 6, 7], spans[1].Positions);
    }

    [Fact]
    public void A_named_phrase_that_is_not_in_the_prompt_is_refused()
    {
        Assert.Throws<ArgumentException>(() => PhraseSpan.Resolve(bundled.Pipeline.Tokenizer, Prompt, ["a green star"]));
    }

    [Fact]
    public void Separately_encoded_phrases_change_the_image()
    {
        var plain = Render();
        var structured = Render(new StructuredDiffusionExtension(PhraseSpan.Resolve(bundled.Pipeline.Tokenizer, Prompt, null)));

        var changed = plain.Zip(structured).Count(p => Math.Abs(p.First - p.Second) > 8);
        Assert.True(changed > plain.Length / 20, $"only {changed} of {plain.Length} channel values moved");
    }

    [Fact]
    public void A_phrase_encoded_in_the_same_context_as_the_prompt_leaves_the_image_as_it_was()
    {
        // The whole prompt as its own phrase: W_1 = the prompt's encoding, so the averaged values are the prompt's.
        var whole = new PhraseSpan(Prompt, [1, 2, 3, 4, 5, 6, 7]);
        var plain = Render();
        var structured = Render(new StructuredDiffusionExtension([whole]));

        Assert.True(plain.Zip(structured).All(p => Math.Abs(p.First - p.Second) <= 2));
    }

    [Fact]
    public void A_zero_step_fraction_is_the_plain_pipeline()
    {
        var plain = Render();
        var none = Render(new StructuredDiffusionExtension(PhraseSpan.Resolve(bundled.Pipeline.Tokenizer, Prompt, null), stepsFraction: 0));

        Assert.Equal(plain, none);
    }
}
