using Easel.Core.Generation;

namespace Easel.Core.Tests;

public sealed class LoraPromptTagsTests
{
    [Fact]
    public void Tags_are_taken_out_of_the_prompt_with_their_scales_and_the_spaces_around_them_collapse()
    {
        var (text, tags) = LoraPromptTags.Extract("a red circle <lora:style:0.8> on the left <LORA:detail>");

        Assert.Equal("a red circle on the left", text);
        Assert.Equal([new LoraPromptTags.Tag("style", 0.8, null), new LoraPromptTags.Tag("detail", 1.0, null)], tags);
    }

    [Fact]
    public void A_prompt_without_tags_is_returned_unchanged_to_the_character()
    {
        var (text, tags) = LoraPromptTags.Extract("  two  spaces <not a tag>");

        Assert.Equal("  two  spaces <not a tag>", text);
        Assert.Empty(tags);
    }

    [Theory]
    [InlineData("<lora:style:strong>", "must be a number")]
    [InlineData("<lora:style:0.5:1.0>", "separate text-encoder and UNet weights")]
    public void An_unreadable_scale_is_named(string prompt, string problem)
    {
        var tag = Assert.Single(LoraPromptTags.Extract(prompt).Tags);

        Assert.Contains(problem, tag.Problem);
    }
}
