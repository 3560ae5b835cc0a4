using Easel.Inference.Text;
using Easel.Inference.Text.Prompting;

namespace Easel.Inference.Guidance.StructuredDiffusion;

/// <summary>A noun phrase of the prompt: its text, encoded alone, and the prompt's token positions its tokens replace.</summary>
/// <param name="Positions">Positions in the encoded prompt (1 = the first token after the start token), in order.</param>
public sealed record PhraseSpan(string Text, IReadOnlyList<int> Positions)
{
    /// <summary>
    /// The phrases of <paramref name="prompt"/>: <paramref name="nounPhrases"/> when the client names them (each must occur in
    /// the prompt as whole words), otherwise those <see cref="NounPhraseChunker"/> finds.
    /// </summary>
    /// <exception cref="ArgumentException">A named phrase is not in the prompt.</exception>
    public static IReadOnlyList<PhraseSpan> Resolve(ClipTokenizer tokenizer, string prompt, IReadOnlyList<string>? nounPhrases)
    {
        var words = NounPhraseChunker.Words(prompt);
        var chunks = nounPhrases is null ? NounPhraseChunker.Chunk(prompt) : nounPhrases.Select(p => Find(words, p)).ToList();
        var positions = PromptWords.Of(tokenizer, prompt);
        return [.. chunks.Select(chunk => Span(tokenizer, words, positions, chunk)).Where(s => s.Positions.Count > 0)];
    }

    /// <summary>The words of the chunk as the prompt writes them (the trailing punctuation of the last one dropped) and their tokens' positions.</summary>
    private static PhraseSpan Span(ClipTokenizer tokenizer, IReadOnlyList<string> words, PromptWords promptWords, NounPhrase chunk)
    {
        var spanWords = words.Skip(chunk.FirstWord).Take(chunk.WordCount).ToList();
        spanWords[^1] = spanWords[^1].TrimEnd(Punctuation);
        var positions = new List<int>();
        for (var k = 0; k < spanWords.Count; k++)
        {
            var word = promptWords.Positions[chunk.FirstWord + k];
            positions.AddRange(k < spanWords.Count - 1 ? word : word.Take(tokenizer.EncodeTokens(spanWords[k]).Count));
        }
        return new PhraseSpan(string.Join(' ', spanWords), positions);
    }

    private static NounPhrase Find(IReadOnlyList<string> words, string phrase)
    {
        var wanted = phrase.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(Bare).ToArray();
        for (var first = 0; wanted.Length > 0 && first + wanted.Length <= words.Count; first++)
            if (wanted.Select((w, k) => string.Equals(w, Bare(words[first + k]), StringComparison.OrdinalIgnoreCase)).All(same => same))
                return new NounPhrase(first, wanted.Length, phrase.Trim());
        throw new ArgumentException($"The noun phrase '{phrase}' is not in the prompt (phrases are matched as whole words).", nameof(phrase));
    }

    private static readonly char[] Punctuation = [',', '.', ';', ':', '!', '?', '(', ')', '[', ']', '"', '\''];

    private static string Bare(string word) => word.Trim(Punctuation);
}
