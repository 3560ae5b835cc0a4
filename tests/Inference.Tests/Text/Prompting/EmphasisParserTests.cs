using Easel.Inference.Text.Prompting;

namespace Easel.Inference.Tests.Text.Prompting;

/// <summary>
/// The expected fragments and weights are A1111's <c>parse_prompt_attention</c> results (its doctests, and the same
/// function run on the other inputs); weights are compared exactly, since A1111's float products decide merging.
/// </summary>
public sealed class EmphasisParserTests
{
    private static PromptFragment F(string text, double weight) => new(text, weight);

    private static readonly PromptFragment Break = PromptFragment.Break;

    private static void AssertParses(string prompt, params PromptFragment[] expected) =>
        Assert.Equal(expected, EmphasisParser.Parse(prompt));

    // A1111's doctests.
    [Fact]
    public void Parse_PlainText_IsOneFragmentOfWeightOne() => AssertParses("normal text", F("normal text", 1.0));

    [Fact]
    public void Parse_RoundBrackets_MultiplyByOnePointOne() =>
        AssertParses("an (important) word", F("an ", 1.0), F("important", 1.1), F(" word", 1.0));

    [Fact]
    public void Parse_UnclosedRoundBracket_AppliesToTheRest() => AssertParses("(unbalanced", F("unbalanced", 1.1));

    [Fact]
    public void Parse_EscapedBrackets_AreLiteral() => AssertParses(@"\(literal\]", F("(literal]", 1.0));

    [Fact]
    public void Parse_AdjacentGroupsOfEqualWeight_Merge() => AssertParses("(unnecessary)(parens)", F("unnecessaryparens", 1.1));

    [Fact]
    public void Parse_A1111HouseExample_GivesItsKnownFragments() =>
        AssertParses("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
            F("a ", 1.0),
            F("house", 1.5730000000000004),
            F(" ", 1.1),
            F("on", 1.0),
            F(" a ", 1.1),
            F("hill", 0.55),
            F(", sun, ", 1.1),
            F("sky", 1.4641000000000006),
            F(".", 1.1));

    // Weights and nesting.
    [Fact]
    public void Parse_DoubleRound_IsOnePointOneSquared() => AssertParses("((word))", F("word", 1.2100000000000002));

    [Fact]
    public void Parse_TripleRound_IsOnePointOneCubed() => AssertParses("(((word)))", F("word", 1.3310000000000004));

    [Fact]
    public void Parse_Square_MultipliesByOneOverOnePointOne() => AssertParses("[word]", F("word", 0.9090909090909091));

    [Fact]
    public void Parse_DoubleSquare_Multiplies() => AssertParses("[[word]]", F("word", 0.8264462809917354));

    [Theory]
    [InlineData("(word:1.3)", 1.3)]
    [InlineData("(word: 1.3 )", 1.3)]
    [InlineData("(word:.5)", 0.5)]
    [InlineData("(word:1.)", 1.0)]
    [InlineData("(word:+2)", 2.0)]
    [InlineData("(word:-1)", -1.0)]
    [InlineData("(word:0)", 0.0)]
    public void Parse_ExplicitWeight_ReplacesTheDefault(string prompt, double weight) => AssertParses(prompt, F("word", weight));

    [Fact]
    public void Parse_ExplicitWeightInsideRound_Multiplies() => AssertParses("((a:1.3))", F("a", 1.4300000000000002));

    [Fact]
    public void Parse_RoundInsideSquare_CancelsToExactlyOne_AndMergesWithNeighbours() =>
        AssertParses("x [(a)] y", F("x a y", 1.0));

    [Fact]
    public void Parse_InterleavedGroups_ApplyToWhatWasWrittenSinceTheyOpened() =>
        AssertParses("(a[b)c]", F("a", 1.1), F("b", 1.0), F("c", 0.9090909090909091));

    [Fact]
    public void Parse_UnclosedSquareAndRound_ApplyRoundThenSquare() =>
        AssertParses("[[a] (b)", F("a", 0.8264462809917354), F(" ", 0.9090909090909091), F("b", 1.0));

    [Fact]
    public void Parse_TwoUnclosedRound_BothApply() => AssertParses("((a)", F("a", 1.2100000000000002));

    [Fact]
    public void Parse_EqualWeightsApart_StaySeparateFragments() =>
        AssertParses("a ((b)) c ((b))", F("a ", 1.0), F("b", 1.2100000000000002), F(" c ", 1.0), F("b", 1.2100000000000002));

    [Fact]
    public void Parse_SameWeightWrittenTwoWays_Merges() =>
        AssertParses("x (a) (b:1.1) y", F("x ", 1.0), F("a", 1.1), F(" ", 1.0), F("b", 1.1), F(" y", 1.0));

    // Stray closers and colons are literal.
    [Theory]
    [InlineData("a)b")]
    [InlineData("a]b")]
    [InlineData("a:1.2)b")]
    [InlineData("a: b")]
    [InlineData("ratio 16:9")]
    [InlineData("(:)")]
    public void Parse_StrayClosersAndColons_AreLiteral(string prompt)
    {
        var expected = prompt == "(:)" ? F(":", 1.1) : F(prompt, 1.0);
        AssertParses(prompt, expected);
    }

    [Fact]
    public void Parse_WeightClosingOnlyASquareGroup_IsLiteral() => AssertParses("[a:1.5)]", F("a:1.5)", 0.9090909090909091));

    [Fact]
    public void Parse_SquareBracketWithWeightAfterRoundGroup_IsLiteralText() =>
        AssertParses("(a:1.5) [b:2)", F("a", 1.5), F(" ", 1.0), F("b:2)", 0.9090909090909091));

    [Fact]
    public void Parse_RoundCloserWhileOnlySquareIsOpen_IsLiteral() => AssertParses("[a)]", F("a)", 0.9090909090909091));

    [Fact]
    public void Parse_WeightThatIsNotANumber_IsLiteralText_AndTheGroupStaysOpen() =>
        AssertParses("(a:1.2.3) b", F("a:1.2.3) b", 1.1));

    // Escapes.
    [Fact]
    public void Parse_EscapedParenthesesInsideAGroup_AreWeightedLiterals() => AssertParses(@"(\(a\))", F("(a)", 1.1));

    [Fact]
    public void Parse_EscapedBackslash_IsOneBackslash() => AssertParses(@"a\\b", F(@"a\b", 1.0));

    [Fact]
    public void Parse_LoneBackslash_IsDropped() => AssertParses(@"a\b", F("ab", 1.0));

    [Fact]
    public void Parse_TrailingLoneBackslashAfterAGroup_LeavesAnEmptyFragment() => AssertParses(@"(a)\", F("a", 1.1), F("", 1.0));

    [Fact]
    public void Parse_EscapedWeightSyntax_IsLiteral() => AssertParses(@"\(word:1.3\)", F("(word:1.3)", 1.0));

    [Fact]
    public void Parse_EscapedSquareBrackets_AreLiteral() => AssertParses(@"\[a\] [b]", F("[a] ", 1.0), F("b", 0.9090909090909091));

    // BREAK.
    [Fact]
    public void Parse_Break_SplitsAndDropsSurroundingWhitespace() => AssertParses("a BREAK b", F("a", 1.0), Break, F("b", 1.0));

    [Fact]
    public void Parse_BreakAlone_KeepsEmptyTextOnBothSides() => AssertParses("BREAK", F("", 1.0), Break, F("", 1.0));

    [Fact]
    public void Parse_BreakNextToPunctuation_IsAWord() => AssertParses("a,BREAK,b", F("a,", 1.0), Break, F(",b", 1.0));

    [Theory]
    [InlineData("a break b")]
    [InlineData("aBREAK b")]
    [InlineData("BREAKING news")]
    [InlineData("BREAK_x")]
    public void Parse_BreakNotUppercaseOrNotAWholeWord_IsText(string prompt) => AssertParses(prompt, F(prompt, 1.0));

    [Fact]
    public void Parse_BreakInsideAGroup_StillBreaks_AndIsNotWeighted() =>
        AssertParses("(a BREAK b)", F("a", 1.1), Break, F("b", 1.1));

    [Fact]
    public void Parse_EmptyPrompt_IsOneEmptyFragment() => AssertParses("", F("", 1.0));

    [Fact]
    public void Parse_OnlyBrackets_IsOneEmptyFragment() => AssertParses("()[]", F("", 1.0));
}
