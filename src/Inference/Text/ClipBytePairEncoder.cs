using System.Collections.Concurrent;
using System.Text;

namespace Easel.Inference.Text;

/// <summary>
/// CLIP's byte-level BPE: a word's UTF-8 bytes are mapped to printable characters (GPT-2's byte alphabet), the last
/// symbol gets the <c>&lt;/w&gt;</c> end-of-word suffix, and the lowest-ranked adjacent pair is merged until no
/// ranked pair remains. Results are cached per word, as in transformers.
/// </summary>
internal sealed class ClipBytePairEncoder
{
    public const string EndOfWord = "</w>";

    private static readonly string[] ByteToSymbol = BuildByteAlphabet();

    // Bounds the cache in a long-running service that sees arbitrary prompts; transformers' cache is unbounded.
    private const int MaxCachedWords = 100_000;

    private readonly Dictionary<(string, string), int> _ranks;
    private readonly Dictionary<string, string[]> _wholeTokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string[]> _cache = new(StringComparer.Ordinal);

    public ClipBytePairEncoder(IReadOnlyList<(string First, string Second)> merges, IEnumerable<string> wholeTokens)
    {
        _ranks = new Dictionary<(string, string), int>(merges.Count);
        for (var rank = 0; rank < merges.Count; rank++)
            _ranks.TryAdd(merges[rank], rank);
        // transformers seeds the cache with the two framing tokens so a literal "<|endoftext|>" stays whole.
        foreach (var token in wholeTokens)
            _wholeTokens[token] = [token];
    }

    /// <summary>Maps a word to its byte-alphabet form (every UTF-8 byte becomes one printable character).</summary>
    public static string ToByteSymbols(string word)
    {
        var builder = new StringBuilder(word.Length * 2);
        foreach (var b in Encoding.UTF8.GetBytes(word))
            builder.Append(ByteToSymbol[b]);
        return builder.ToString();
    }

    /// <summary>The BPE symbols of one byte-alphabet word.</summary>
    public string[] Encode(string word)
    {
        if (_wholeTokens.TryGetValue(word, out var whole))
            return whole;
        if (_cache.Count > MaxCachedWords)
            _cache.Clear();
        return _cache.GetOrAdd(word, Merge);
    }

    private string[] Merge(string word)
    {
        if (word.Length == 0)
            return [];
        // Every byte symbol is one BMP char, so chars are symbols.
        var symbols = new List<string>(word.Length);
        for (var i = 0; i < word.Length - 1; i++)
            symbols.Add(word[i].ToString());
        symbols.Add(word[^1] + EndOfWord);
        while (symbols.Count > 1)
        {
            var bestRank = int.MaxValue;
            (string, string) best = default;
            for (var i = 0; i < symbols.Count - 1; i++)
            {
                if (_ranks.TryGetValue((symbols[i], symbols[i + 1]), out var rank) && rank < bestRank)
                {
                    bestRank = rank;
                    best = (symbols[i], symbols[i + 1]);
                }
            }
            if (bestRank == int.MaxValue)
                break;
            // Merge every non-overlapping occurrence of the pair, left to right.
            var merged = new List<string>(symbols.Count);
            for (var i = 0; i < symbols.Count; i++)
            {
                if (i < symbols.Count - 1 && symbols[i] == best.Item1 && symbols[i + 1] == best.Item2)
                {
                    merged.Add(best.Item1 + best.Item2);
                    i++;
                }
                else
                {
                    merged.Add(symbols[i]);
                }
            }
            symbols = merged;
        }
        return symbols.ToArray();
    }

    // GPT-2/CLIP bytes_to_unicode: printable Latin-1 bytes map to themselves, the rest to U+0100 upwards in byte order.
    private static string[] BuildByteAlphabet()
    {
        var table = new string[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            table[b] = ((char)(printable ? b : next++)).ToString();
        }
        return table;
    }
}
