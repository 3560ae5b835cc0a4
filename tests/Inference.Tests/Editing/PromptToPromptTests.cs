using Easel.Inference.Text.Prompting;
using Easel.Inference.Editing;
using Easel.Inference.Editing.PromptToPrompt;
using Easel.Inference.Pipelines;
using Easel.Inference.Text;
using TorchSharp;

namespace Easel.Inference.Tests.Editing;

public sealed class PromptToPromptMappingTests(BundledPipeline bundled) : IClassFixture<BundledPipeline>
{
    private ClipTokenizer Tokenizer => bundled.Pipeline.Tokenizer;

    [Fact]
    public void Words_own_their_token_positions_after_the_start_token_also_when_a_word_is_several_tokens()
    {
        var words = PromptWords.Of(Tokenizer, "a watercolour circle");
        var split = Tokenizer.EncodeTokens("watercolour").Count;

        Assert.Equal([1], words.Positions[0]);
        Assert.Equal(Enumerable.Range(2, split), words.Positions[1]);
        Assert.Equal([2 + split], words.Positions[2]);
        Assert.Equal([2 + split], words.PositionsOf("circle,"));
    }

    [Fact]
    public void A_word_swap_maps_the_replaced_words_tokens_onto_its_replacement_and_every_other_token_onto_itself()
    {
        var swap = (CrossAttentionMapping.WordSwap)CrossAttentionMapping.For(Tokenizer, "a red circle", "a blue circle", 77);

        using var identity = torch.eye(77);
        Assert.True(swap.Mapper.equal(identity).all().item<bool>(), "red and blue are one token each: position 2 maps onto position 2");
        using var maps = torch.rand(2, 5, 77);
        Assert.True(swap.Map(maps, torch.rand(2, 5, 77)).allclose(maps));
    }

    [Fact]
    public void A_refinement_aligns_the_shared_tokens_and_leaves_the_added_word_its_own_map()
    {
        var refinement = (CrossAttentionMapping.Refinement)CrossAttentionMapping.For(Tokenizer, "a circle", "a red circle", 77);

        var index = refinement.SourceIndex.data<long>().ToArray();
        var alphas = refinement.Alphas.data<float>().ToArray();
        Assert.Equal((0L, 1L, 2L), (index[0], index[1], index[3])); // start, "a", "circle" (source position 2)
        Assert.Equal(0f, alphas[2]); // "red" is new
        Assert.Equal(1f, alphas[3]);
    }

    [Fact]
    public void Alignment_of_token_sequences_maps_each_shared_token_to_its_place_in_the_source()
    {
        Assert.Equal([0, -1, 1, 2], CrossAttentionMapping.Refinement.Align([5, 7, 9], [5, 8, 7, 9]));
        Assert.Equal([0, 1, -1], CrossAttentionMapping.Refinement.Align([5, 7, 9], [5, 7, 6]));
    }
}

/// <summary>Prompt-to-Prompt on the bundled model: the source row is the plain generation, the edit keeps its layout.</summary>
public sealed class PromptToPromptTests(BundledPipeline bundled) : IClassFixture<BundledPipeline>
{
    private StableDiffusionPipeline Pipeline => bundled.Pipeline;

    private static PromptToPromptEdit Edit(PromptToPromptSettings settings) =>
        new(new TextToImageRequest("a large purple circle", "", 64, 64, 20, 7.5, 7004, "ddim"), "a large blue circle", settings);

    private byte[] Plain(string prompt) => Pipeline.Generate(new TextToImageRequest(prompt, "", 64, 64, 20, 7.5, 7004, "ddim"))[0].Rgb;

    [Fact]
    public void The_source_row_is_the_plain_generation_of_the_source_prompt_and_without_injection_the_edit_is_that_of_the_edited_prompt()
    {
        var pair = Edit(new PromptToPromptSettings(CrossReplaceSteps: 0, SelfReplaceSteps: 0)).Run(Pipeline);

        var all = Enumerable.Repeat(true, 64 * 64).ToArray();
        Assert.True(EditEffects.Psnr(pair[0].Rgb, Plain("a large blue circle"), all) > 40);
        Assert.True(EditEffects.Psnr(pair[1].Rgb, Plain("a large purple circle"), all) > 40);
    }

    [Fact]
    public void Injecting_the_source_attention_keeps_the_source_layout_closer_than_plain_regeneration()
    {
        var pair = Edit(new PromptToPromptSettings()).Run(Pipeline);

        Assert.True(EditEffects.ForegroundIou(pair[0].Rgb, pair[1].Rgb) > EditEffects.ForegroundIou(pair[0].Rgb, Plain("a large purple circle")) + 0.1);
        Assert.NotEqual(pair[0].Rgb, pair[1].Rgb);
    }

    [Fact]
    public void Local_blend_keeps_the_source_pixels_away_from_the_blend_words_region()
    {
        var blended = Edit(new PromptToPromptSettings(LocalBlend: ["circle"])).Run(Pipeline);
        var free = Edit(new PromptToPromptSettings()).Run(Pipeline);

        var corners = new bool[64 * 64];
        for (var y = 0; y < 64; y++)
            for (var x = 0; x < 64; x++)
                corners[y * 64 + x] = (x < 8 || x >= 56) && (y < 8 || y >= 56);
        Assert.True(EditEffects.Psnr(blended[1].Rgb, blended[0].Rgb, corners) >= EditEffects.Psnr(free[1].Rgb, free[0].Rgb, corners));
    }

    [Fact]
    public void A_reweighted_or_blended_word_that_is_not_in_the_prompts_is_refused_by_name()
    {
        var error = Assert.Throws<ArgumentException>(() => Edit(new PromptToPromptSettings(Reweight: new Dictionary<string, double> { ["square"] = 0 })).Run(Pipeline));
        Assert.Contains("square", error.Message);
    }
}
