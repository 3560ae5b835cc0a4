using Easel.Inference.Tests.Parity;
using Easel.Inference.Text;

namespace Easel.Inference.Tests.Text;

public sealed class ClipTokenizerTests
{
    private static readonly Lazy<ClipTokenizer> Full = new(() => ClipTokenizer.FromPretrained(ParityFixtures.PathOf("vocab/clip_bpe_49408")));
    private static readonly Lazy<ClipTokenizer> FullBang = new(() => ClipTokenizer.FromPretrained(ParityFixtures.PathOf("vocab/clip_bpe_49408"), "!"));

    [Fact]
    public void FromPretrained_ReadsSpecialTokenIdsAndLengthFromTheFolder()
    {
        var tokenizer = Full.Value;
        Assert.Equal(tokenizer.IdOf("<|startoftext|>"), tokenizer.BosTokenId);
        Assert.Equal(tokenizer.IdOf("<|endoftext|>"), tokenizer.EosTokenId);
        Assert.Equal(tokenizer.EosTokenId, tokenizer.PadTokenId);
        Assert.Equal(77, tokenizer.ModelMaxLength);
        Assert.Equal(tokenizer.IdOf("!"), FullBang.Value.PadTokenId);
    }

    [Fact]
    public void Encode_SplitsEveryLiteralBang_WhenThePadTokenIsBang()
    {
        var bang = FullBang.Value.Tokenize("wow!!!");
        Assert.Equal(["wow</w>", "!", "!", "!"], bang);
        var eos = Full.Value.Tokenize("wow!!!");
        Assert.DoesNotContain("!", eos);
    }

    [Fact]
    public void Encode_TruncatesLongPrompts_KeepingBosAndPuttingEosAt76()
    {
        var tokenizer = Full.Value;
        var prompt = string.Join(' ', Enumerable.Repeat("horse", 200));
        var result = tokenizer.Encode(prompt);
        Assert.Equal(77, result.InputIds.Count);
        Assert.Equal(tokenizer.BosTokenId, result.InputIds[0]);
        Assert.Equal(tokenizer.EosTokenId, result.InputIds[76]);
        Assert.All(result.InputIds.Skip(1).Take(75), id => Assert.Equal(tokenizer.IdOf("horse</w>"), id));
        Assert.All(result.AttentionMask, m => Assert.Equal(1L, m));
        Assert.True(result.WasTruncated);
        Assert.Equal(202, result.UntruncatedIds.Count);
    }

    [Fact]
    public void Encode_PadsShortPromptsWithThePadIdAndMasksThePadding()
    {
        var tokenizer = FullBang.Value;
        var result = tokenizer.Encode("");
        Assert.Equal([tokenizer.BosTokenId, tokenizer.EosTokenId], result.InputIds.Take(2));
        Assert.All(result.InputIds.Skip(2), id => Assert.Equal(tokenizer.PadTokenId, id));
        Assert.Equal(2, result.AttentionMask.Sum());
        Assert.False(result.WasTruncated);
    }

    [Fact]
    public void Encode_KeepsLiteralSpecialTokensWhole()
    {
        var tokenizer = Full.Value;
        var ids = tokenizer.EncodeUntruncated("a <|endoftext|> b");
        Assert.Equal([tokenizer.BosTokenId, tokenizer.IdOf("a</w>"), tokenizer.EosTokenId, tokenizer.IdOf("b</w>"), tokenizer.EosTokenId], ids);
    }

    [Fact]
    public void Encode_IgnoresCaseWhitespaceAndControlCharacters()
    {
        var tokenizer = Full.Value;
        Assert.Equal(tokenizer.EncodeUntruncated("a red apple"), tokenizer.EncodeUntruncated("  A\tRED\u0007 \n Apple "));
    }

    [Fact]
    public void Encode_TreatsCombiningSequencesLikeTheirPrecomposedForm()
    {
        var tokenizer = Full.Value;
        Assert.Equal(tokenizer.EncodeUntruncated("caf\u00E9"), tokenizer.EncodeUntruncated("cafe\u0301"));
    }

    [Fact]
    public void Clean_LowercasesLikePython_IncludingDottedCapitalIAndFinalSigma()
    {
        Assert.Equal("i\u0307stanbul", ClipTextCleaner.Clean("\u0130stanbul"));
        Assert.Equal("\u03BF\u03B4\u03BF\u03C2 \u03C3", ClipTextCleaner.Clean("\u039F\u0394\u039F\u03A3 \u03A3"));
    }

    [Fact]
    public void Clean_PutsSpacesAroundCjkIdeographsButNotKana()
    {
        Assert.Equal("東 京 タワー", ClipTextCleaner.Clean("東京タワー"));
    }

    [Fact]
    public void PreTokenizer_SplitsContractionsDigitsAndAstralLetters()
    {
        Assert.Equal(["don", "'t", "4", "2", "!?", "\U0001D400\U0001D401"], ClipPreTokenizer.Split("don't 42!? \U0001D400\U0001D401"));
    }

    [Fact]
    public void Clean_DropsCodePointsUnassignedInTheReferencePythonsUnicode()
    {
        // U+13484 was assigned after Unicode 14 (Python 3.11, which made the goldens): transformers drops it as "Cn".
        Assert.Equal("ab", ClipTextCleaner.Clean("a\U00013484b"));
    }

    [Fact]
    public void PreTokenizer_SkipsYpogegrammeni_AsTheCaseInsensitiveRegexMatchesItWithNoClass()
    {
        Assert.Equal(["k", "x"], ClipPreTokenizer.Split("k\u0345x"));
    }
}
