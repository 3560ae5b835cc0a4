using Easel.Inference.Guidance.StructuredDiffusion;
using Easel.Inference.Shapes;

namespace Easel.Inference.Tests.Guidance;

public sealed class NounPhraseChunkerTests
{
    private static string[] Phrases(string prompt) => [.. NounPhraseChunker.Chunk(prompt).Select(p => p.Text)];

    [Fact]
    public void Coordinated_objects_are_one_phrase_each_with_their_determiner_and_modifiers()
    {
        Assert.Equal(["a red circle", "a large blue square"], Phrases("a red circle and a large blue square"));
        Assert.Equal(["a cat", "a frog", "two dogs"], Phrases("a cat, a frog or two dogs"));
    }

    [Fact]
    public void Positions_after_the_are_not_objects_and_prepositions_end_a_phrase()
    {
        Assert.Equal(["a red circle", "a blue square"], Phrases("a red circle on the left and a blue square at the top"));
        Assert.Equal(["a green star", "an orange ring"], Phrases("a green star to the left of an orange ring"));
    }

    [Fact]
    public void An_of_phrase_is_one_phrase_and_a_verb_ends_the_subject()
    {
        Assert.Equal(["a cup of hot coffee", "a wooden table"], Phrases("a cup of hot coffee on a wooden table"));
        Assert.Equal(["a black cat", "a red mat"], Phrases("a black cat sitting on a red mat"));
        Assert.Equal(["a red painting"], Phrases("a red painting"));
    }

    [Fact]
    public void Phrase_word_indices_point_at_the_prompts_words()
    {
        var phrase = NounPhraseChunker.Chunk("photo of a red circle, and a blue square.")[^1];
        var words = NounPhraseChunker.Words("photo of a red circle, and a blue square.");

        Assert.Equal("a blue square", phrase.Text);
        Assert.Equal("a", words[phrase.FirstWord]);
        Assert.Equal(3, phrase.WordCount);
    }

    [Fact]
    public void Every_two_object_caption_of_the_shape_grammar_gives_its_two_objects()
    {
        var generator = new SceneGenerator(11, SceneGeneratorOptions.Default with { OneObject = 0.0, TwoObjects = 1.0 });
        for (ulong i = 0; i < 200; i++)
        {
            var generated = generator.Generate(i);
            var phrases = Phrases(generated.Caption);
            Assert.True(phrases.Length == 2, $"{generated.Caption}: {string.Join(" | ", phrases)}");
            Assert.Equal(generated.Spec.Objects.Select(CaptionWriter.Write).Select(WithoutPosition), phrases);
        }
    }

    private static string WithoutPosition(string objectCaption)
    {
        foreach (var position in new[] { " on the left", " on the right", " at the top", " at the bottom", " in the centre" })
            if (objectCaption.EndsWith(position, StringComparison.Ordinal))
                return objectCaption[..^position.Length];
        return objectCaption;
    }
}
