namespace Easel.Inference.Guidance.StructuredDiffusion;

/// <summary>A noun phrase found in a prompt: its first word (index into <see cref="NounPhraseChunker.Words"/>), its word count and text.</summary>
public sealed record NounPhrase(int FirstWord, int WordCount, string Text);

/// <summary>
/// A small deterministic English noun-phrase chunker, the stand-in for the constituency parser of Feng et al. 2023
/// (SDG needs the noun phrases, not a full parse). A phrase is an optional determiner or number, its modifiers and a
/// head noun: "a large red circle", "two blue squares". Coordination ("and", "or", a comma), prepositions and common
/// verbs end a phrase; "X of Y" is one phrase ("a cup of hot coffee"); place nouns after "the" ("on the left", "at the
/// top") are positions, not objects.
/// </summary>
public static class NounPhraseChunker
{
    private static readonly HashSet<string> Determiners =
    [
        "a", "an", "the", "this", "that", "these", "those", "my", "your", "his", "her", "its", "our", "their",
        "some", "every", "each", "no", "another", "many", "several", "few",
    ];

    private static readonly HashSet<string> Numbers =
    [
        "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "dozen", "hundred",
    ];

    private static readonly HashSet<string> Coordinators = ["and", "or", "nor", "but", "&", "plus", "while"];

    private static readonly HashSet<string> Prepositions =
    [
        "of", "on", "in", "at", "with", "without", "to", "from", "by", "for", "into", "onto", "inside", "outside",
        "above", "below", "under", "over", "beneath", "beside", "besides", "near", "behind", "between", "among",
        "around", "across", "through", "along", "against", "next", "toward", "towards", "upon", "within", "atop",
        "like", "than", "as", "during", "after", "before", "underneath", "beyond",
    ];

    private static readonly HashSet<string> Verbs =
    [
        "is", "are", "was", "were", "be", "been", "being", "has", "have", "had", "does", "do", "did", "can", "will",
        "sits", "sit", "stands", "stand", "lies", "lie", "holds", "hold", "wears", "wear", "eats", "eat", "rides",
        "ride", "looks", "look", "made", "covered", "filled", "painted", "drawn", "surrounded", "placed", "seen",
        "who", "which", "that's", "there", "here", "very", "not",
    ];

    /// <summary>Words that are positions when a determiner introduces them ("on the left"), never the objects of a scene.</summary>
    private static readonly HashSet<string> PlaceNouns =
    [
        "left", "right", "top", "bottom", "middle", "centre", "center", "background", "foreground", "side", "front",
        "back", "corner", "edge", "distance", "upper", "lower",
    ];

    /// <summary>Modifiers that let a following "-ing" word be the head noun ("a red painting") rather than a verb ("a cat sitting").</summary>
    private static readonly HashSet<string> Adjectives =
    [
        "red", "orange", "yellow", "green", "blue", "purple", "violet", "pink", "brown", "white", "black", "grey",
        "gray", "gold", "golden", "silver", "small", "large", "big", "tiny", "little", "huge", "old", "new", "beautiful",
        "oil", "watercolour", "watercolor", "famous", "detailed",
    ];

    /// <summary>The prompt's space-separated words, as <see cref="Text.Prompting.PromptWords"/> splits them.</summary>
    public static IReadOnlyList<string> Words(string prompt) => prompt.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    public static IReadOnlyList<NounPhrase> Chunk(string prompt)
    {
        var words = Words(prompt);
        var phrases = new List<(int First, int Count)>();
        var joinNext = false;
        var i = 0;
        while (i < words.Count)
        {
            var (first, contentWords, endsAtVerb) = (i, 0, false);
            var adjectivesOnly = true;
            for (; i < words.Count; i++)
            {
                var word = Bare(words[i]);
                if (word.Length == 0 || Coordinators.Contains(word) || Prepositions.Contains(word) || Verbs.Contains(word))
                    break;
                var isOpener = Determiners.Contains(word) || Numbers.Contains(word) || word.All(char.IsAsciiDigit);
                if (isOpener && contentWords > 0)
                    break;
                endsAtVerb = IsVerbForm(word) && contentWords > 0 && !adjectivesOnly;
                if (endsAtVerb)
                    break;
                if (!isOpener)
                {
                    contentWords++;
                    adjectivesOnly &= Adjectives.Contains(word);
                }
                if (EndsClause(words[i]))
                {
                    i++;
                    break;
                }
            }
            var count = i - first;
            var isPlace = contentWords > 0 && PlaceNouns.Contains(Bare(words[i - 1])) && Determiners.Contains(Bare(words[first]));
            if (contentWords > 0 && !isPlace)
            {
                if (joinNext)
                    phrases[^1] = (phrases[^1].First, first + count - phrases[^1].First);
                else
                    phrases.Add((first, count));
            }
            // "X of Y" continues X's phrase; a place ("the left of") or a clause break does not.
            joinNext = contentWords > 0 && !isPlace && i < words.Count && Bare(words[i]) == "of" && !EndsClause(words[i - 1]);
            // Skip the word that ended the phrase when it starts none: a function word, "of", or a verb ("sitting").
            if (count == 0 || joinNext || endsAtVerb)
                i++;
        }
        return [.. phrases.Select(p => new NounPhrase(p.First, p.Count, Text(words, p.First, p.Count)))];
    }

    private static string Text(IReadOnlyList<string> words, int first, int count)
    {
        var text = string.Join(' ', words.Skip(first).Take(count));
        return text.TrimEnd(',', '.', ';', ':', '!', '?', ')', ']', '"');
    }

    private static bool EndsClause(string word) => word.Length > 0 && word[^1] is ',' or '.' or ';' or ':' or '!' or '?';

    private static bool IsVerbForm(string word) => word.Length > 4 && word.EndsWith("ing", StringComparison.Ordinal);

    private static string Bare(string word) => word.Trim(',', '.', ';', ':', '!', '?', '(', ')', '[', ']', '"', '\'').ToLowerInvariant();
}
