using Easel.Inference.Tests.Parity;
using Easel.Inference.Text;
using Easel.Inference.Text.Prompting;

namespace Easel.Inference.Tests.Text.Prompting;

public sealed class PromptChunkerTests
{
    // A synthetic vocabulary: every whitespace-separated word is one token; "," is the comma, "tN" is id N.
    private const long Bos = 1000, Eos = 1001, Pad = 1002, Comma = 999;

    private static IReadOnlyList<long> Encode(string text) =>
        text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(w => w == "," ? Comma : long.Parse(w[1..])).ToList();

    private static PromptChunker Synthetic(int commaBacktrack = PromptChunker.DefaultCommaBacktrack) =>
        new(Encode, Bos, Eos, Pad, Comma, chunkLength: 75, commaBacktrack);

    private static string Words(int from, int count) => string.Join(' ', Enumerable.Range(from, count).Select(i => $"t{i}"));

    private static long[] Ids(int from, int count) => Enumerable.Range(from, count).Select(i => (long)i).ToArray();

    private static void AssertFramed(PromptChunk chunk, IReadOnlyList<long> content)
    {
        var expected = new List<long> { Bos };
        expected.AddRange(content);
        expected.Add(Eos);
        while (expected.Count < 77)
            expected.Add(Pad);
        Assert.Equal(expected, chunk.TokenIds);
        Assert.Equal(77, chunk.Weights.Count);
        Assert.Equal(content.Count, chunk.TokenCount);
    }

    [Fact]
    public void Chunk_EmptyPrompt_GivesOneChunkOfBosEosPadding()
    {
        var chunks = Synthetic().Chunk("");
        var chunk = Assert.Single(chunks);
        AssertFramed(chunk, []);
        Assert.True(chunk.IsUnweighted);
        Assert.Equal(Synthetic().EmptyChunk(), chunk, ChunkComparer.Instance);
    }

    [Fact]
    public void Chunk_SeventyFiveTokens_FillOneChunkWithoutPadding()
    {
        var chunk = Assert.Single(Synthetic().Chunk(Words(0, 75)));
        AssertFramed(chunk, Ids(0, 75));
    }

    [Fact]
    public void Chunk_SeventySixTokens_SpillIntoASecondChunk()
    {
        var chunks = Synthetic().Chunk(Words(0, 76));
        Assert.Equal(2, chunks.Count);
        AssertFramed(chunks[0], Ids(0, 75));
        AssertFramed(chunks[1], [75]);
    }

    [Fact]
    public void Chunk_TwoHundredTokens_GiveThreeChunksOf77()
    {
        var chunks = Synthetic().Chunk(Words(0, 200));
        Assert.Equal(3, chunks.Count);
        AssertFramed(chunks[0], Ids(0, 75));
        AssertFramed(chunks[1], Ids(75, 75));
        AssertFramed(chunks[2], Ids(150, 50));
    }

    [Fact]
    public void Chunk_Break_StartsANewChunk()
    {
        var chunks = Synthetic().Chunk("t1 t2 BREAK t3");
        Assert.Equal(2, chunks.Count);
        AssertFramed(chunks[0], [1, 2]);
        AssertFramed(chunks[1], [3]);
    }

    [Fact]
    public void Chunk_LeadingBreak_GivesAnEmptyFirstChunk_TrailingBreakGivesNothing()
    {
        var leading = Synthetic().Chunk("BREAK t1");
        Assert.Equal(2, leading.Count);
        AssertFramed(leading[0], []);
        AssertFramed(leading[1], [1]);

        AssertFramed(Assert.Single(Synthetic().Chunk("t1 BREAK")), [1]);
    }

    [Fact]
    public void Chunk_BreakWithEmphasisOff_IsText()
    {
        var chunker = new PromptChunker(text => text.Split(' ').Select(w => w == "BREAK" ? 7L : long.Parse(w[1..])).ToList(),
            Bos, Eos, Pad, Comma, 75, 20);
        AssertFramed(Assert.Single(chunker.Chunk("t1 BREAK t2", emphasis: false)), [1, 7, 2]);
    }

    [Fact]
    public void Chunk_FullChunkWithARecentComma_MovesTheTextAfterTheCommaToTheNextChunk()
    {
        // 70 tokens, a comma at index 70, then 10 tokens: the window fills at u3; u4 arrives with the comma 5 back.
        var chunks = Synthetic().Chunk($"{Words(0, 70)} , {Words(100, 10)}");
        Assert.Equal(2, chunks.Count);
        AssertFramed(chunks[0], [.. Ids(0, 70), Comma]);
        AssertFramed(chunks[1], Ids(100, 10));
    }

    [Fact]
    public void Chunk_CommaExactlyTwentyBack_Backtracks()
    {
        // Comma at index 55: 75 - 55 = 20 ≤ 20.
        var chunks = Synthetic().Chunk($"{Words(0, 55)} , {Words(100, 30)}");
        AssertFramed(chunks[0], [.. Ids(0, 55), Comma]);
        AssertFramed(chunks[1], Ids(100, 30));
    }

    [Fact]
    public void Chunk_CommaTwentyOneBack_DoesNotBacktrack()
    {
        // Comma at index 54: 75 - 54 = 21 > 20, so the window is cut at 75 tokens.
        var chunks = Synthetic().Chunk($"{Words(0, 54)} , {Words(100, 30)}");
        AssertFramed(chunks[0], [.. Ids(0, 54), Comma, .. Ids(100, 20)]);
        AssertFramed(chunks[1], Ids(120, 10));
    }

    [Fact]
    public void Chunk_BacktrackZero_NeverMovesText()
    {
        var chunks = Synthetic(commaBacktrack: 0).Chunk($"{Words(0, 70)} , {Words(100, 10)}");
        AssertFramed(chunks[0], [.. Ids(0, 70), Comma, .. Ids(100, 4)]);
        AssertFramed(chunks[1], Ids(104, 6));
    }

    [Fact]
    public void Chunk_CommaThatEndsAWindow_StartsNoBacktrackInTheNext()
    {
        // The 75th token is a comma; the next window starts fresh, with no remembered comma.
        var chunks = Synthetic().Chunk($"{Words(0, 74)} , {Words(100, 80)}");
        Assert.Equal(3, chunks.Count);
        AssertFramed(chunks[0], [.. Ids(0, 74), Comma]);
        AssertFramed(chunks[1], Ids(100, 75));
        AssertFramed(chunks[2], Ids(175, 5));
    }

    [Fact]
    public void Chunk_MovedTokens_KeepTheirWeights()
    {
        var chunks = Synthetic().Chunk($"{Words(0, 70)} , ({Words(100, 10)}:1.5)");
        Assert.Equal(2, chunks.Count);
        Assert.All(chunks[0].Weights, w => Assert.Equal(1f, w));
        Assert.Equal([1f, .. Enumerable.Repeat(1.5f, 10), .. Enumerable.Repeat(1f, 66)], chunks[1].Weights);
    }

    [Fact]
    public void Chunk_CarriesFragmentWeightsPerToken_OneForBosEosAndPadding()
    {
        var chunk = Assert.Single(Synthetic().Chunk("t1 (t2 t3) [t4]"));
        AssertFramed(chunk, [1, 2, 3, 4]);
        Assert.Equal([1f, 1f, 1.1f, 1.1f, (float)(1 / 1.1), .. Enumerable.Repeat(1f, 72)], chunk.Weights);
        Assert.False(chunk.IsUnweighted);
    }

    [Fact]
    public void Chunk_ClipTokenizer_ShortPromptEqualsTheTokenizersPaddedEncoding()
    {
        foreach (var family in new[] { "sd15", "sd2" }) // sd2 pads with "!" (id 0), sd15 with EOS
        {
            var tokenizer = ClipTokenizer.FromPretrained(ParityFixtures.PathOf($"models/{family}/tokenizer"));
            foreach (var prompt in new[] { "", "a photograph of an astronaut riding a horse", "blurry, low quality" })
            {
                var chunk = Assert.Single(new PromptChunker(tokenizer).Chunk(prompt));
                Assert.Equal(tokenizer.Encode(prompt).InputIds, chunk.TokenIds);
            }
        }
    }

    [Fact]
    public void Chunk_ClipTokenizer_TwoHundredTokenPrompt_GivesThreeChunksOf77()
    {
        var tokenizer = ClipTokenizer.FromPretrained(ParityFixtures.PathOf("models/sd15/tokenizer"));
        var prompt = LongPrompt(tokenizer, 200);
        var chunks = new PromptChunker(tokenizer).Chunk(prompt);
        Assert.Equal(3, chunks.Count);
        Assert.All(chunks, c => Assert.Equal(77, c.TokenIds.Count));
        Assert.All(chunks, c => Assert.Equal(tokenizer.BosTokenId, c.TokenIds[0]));
        Assert.Equal(200, chunks.Sum(c => c.TokenCount));
        Assert.Equal(tokenizer.EncodeTokens(prompt), chunks.SelectMany(c => c.TokenIds.Skip(1).Take(c.TokenCount)));
    }

    [Fact]
    public void Chunk_ClipTokenizer_UsesTheVocabularysComma()
    {
        var tokenizer = ClipTokenizer.FromPretrained(ParityFixtures.PathOf("models/sd15/tokenizer"));
        var single = tokenizer.EncodeTokens("x");
        Assert.Single(single);
        // 70 × "x", ",", 10 × "x": the ten after the comma move to the second chunk.
        var prompt = string.Join(' ', Enumerable.Repeat("x", 70)) + " , " + string.Join(' ', Enumerable.Repeat("x", 10));
        var chunks = new PromptChunker(tokenizer).Chunk(prompt);
        Assert.Equal(2, chunks.Count);
        Assert.Equal(71, chunks[0].TokenCount);
        Assert.Equal(10, chunks[1].TokenCount);
    }

    /// <summary>A prompt of exactly <paramref name="tokens"/> tokens under <paramref name="tokenizer"/>, without commas.</summary>
    internal static string LongPrompt(ClipTokenizer tokenizer, int tokens)
    {
        string[] words = ["a", "red", "house", "on", "the", "hill", "under", "blue", "sky", "with", "tall", "trees"];
        var text = new List<string>();
        var i = 0;
        while (tokenizer.EncodeTokens(string.Join(' ', text)).Count < tokens)
            text.Add(words[i++ % words.Length]);
        while (tokenizer.EncodeTokens(string.Join(' ', text)).Count > tokens)
            text.RemoveAt(text.Count - 1);
        while (tokenizer.EncodeTokens(string.Join(' ', text)).Count < tokens)
            text.Add("a");
        var prompt = string.Join(' ', text);
        Assert.Equal(tokens, tokenizer.EncodeTokens(prompt).Count);
        return prompt;
    }

    private sealed class ChunkComparer : IEqualityComparer<PromptChunk>
    {
        public static readonly ChunkComparer Instance = new();

        public bool Equals(PromptChunk? x, PromptChunk? y) =>
            x is not null && y is not null && x.TokenIds.SequenceEqual(y.TokenIds) && x.Weights.SequenceEqual(y.Weights) && x.TokenCount == y.TokenCount;

        public int GetHashCode(PromptChunk obj) => obj.TokenCount;
    }
}
