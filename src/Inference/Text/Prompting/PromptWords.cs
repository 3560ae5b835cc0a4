using Easel.Inference.Text;

namespace Easel.Inference.Text.Prompting;

/// <summary>
/// Where each space-separated word of a prompt sits among the encoded prompt's tokens: CLIP's tokenizer splits words
/// apart, so word k's tokens follow those of the words before it, from position 1 (after the start token) on. A word
/// that becomes several tokens ("watercolour") owns all of them; words past the 75-token window own none.
/// </summary>
public sealed class PromptWords
{
    /// <summary>Token positions a prompt can fill: the context length less the start and end tokens.</summary>
    public const int MaxWordTokens = 75;

    private PromptWords(IReadOnlyList<string> words, IReadOnlyList<int[]> positions, int tokenCount)
    {
        Words = words;
        Positions = positions;
        TokenCount = tokenCount;
    }

    public IReadOnlyList<string> Words { get; }

    /// <summary>Per word, its token positions in the encoded prompt.</summary>
    public IReadOnlyList<int[]> Positions { get; }

    /// <summary>The prompt's tokens without the start and end tokens (at most <see cref="MaxWordTokens"/>).</summary>
    public int TokenCount { get; }

    public static PromptWords Of(ClipTokenizer tokenizer, string prompt)
    {
        var words = prompt.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var positions = new List<int[]>(words.Length);
        var next = 1;
        foreach (var word in words)
        {
            var count = tokenizer.EncodeTokens(word).Count;
            positions.Add([.. Enumerable.Range(next, count).Where(p => p <= MaxWordTokens)]);
            next += count;
        }
        return new PromptWords(words, positions, Math.Min(next - 1, MaxWordTokens));
    }

    /// <summary>The positions of every occurrence of <paramref name="word"/> (case-insensitive, punctuation around it ignored).</summary>
    public int[] PositionsOf(string word) =>
        [.. Words.Select((w, i) => (w, i)).Where(x => Same(x.w, word)).SelectMany(x => Positions[x.i])];

    private static bool Same(string a, string b) =>
        string.Equals(a.Trim(',', '.', ';', ':', '!', '?'), b.Trim(',', '.', ';', ':', '!', '?'), StringComparison.OrdinalIgnoreCase);
}
