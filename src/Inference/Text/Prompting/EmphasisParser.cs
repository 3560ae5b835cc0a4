using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Easel.Inference.Text.Prompting;

/// <summary>
/// Parses AUTOMATIC1111's emphasis ("attention") syntax into weighted text fragments, with A1111's results
/// (<c>modules/prompt_parser.py</c>, <c>parse_prompt_attention</c>) including its floating-point products.
/// </summary>
/// <remarks>
/// <para>Grammar. The prompt is read left to right as a sequence of these items:</para>
/// <list type="table">
/// <item><term><c>(</c></term><description>opens a round group: its text is weighted ×1.1 when closed by <c>)</c>.</description></item>
/// <item><term><c>:w)</c></term><description>closes the innermost open round group with the explicit weight <c>w</c> instead
/// of 1.1: an optional sign, then digits and dots (<c>1.3</c>, <c>.5</c>, <c>-1</c>); whitespace is allowed around
/// <c>w</c> (<c>(word : 1.3 )</c>). Only a round group can take a weight.</description></item>
/// <item><term><c>[</c> … <c>]</c></term><description>a square group: its text is weighted ×(1/1.1).</description></item>
/// <item><term><c>\(</c> <c>\)</c> <c>\[</c> <c>\]</c> <c>\\</c></term><description>the literal character; any other
/// backslash is dropped (<c>a\b</c> reads as <c>ab</c>).</description></item>
/// <item><term><c>BREAK</c></term><description>uppercase, as a whole word: ends the current 75-token chunk
/// (<see cref="PromptFragment.IsBreak"/>); the whitespace around it is dropped.</description></item>
/// <item><term>anything else</term><description>literal text, including a lone <c>:</c>.</description></item>
/// </list>
/// <para>Groups nest and their weights multiply: <c>((a))</c> is 1.21, <c>((a:1.3))</c> is 1.3 × 1.1 = 1.43,
/// <c>[(a)]</c> is 1.1 / 1.1. A weight is applied when its group closes, to everything written since it opened.</para>
/// <para>Unbalanced brackets are tolerated as A1111 does: a group still open at the end applies its default weight
/// (×1.1 round, ×1/1.1 square) to the rest of the prompt; a <c>)</c>, <c>]</c> or <c>:w)</c> that closes nothing of
/// its kind is literal text. Adjacent fragments of equal weight are merged; an empty prompt gives one empty fragment.</para>
/// <para>Deliberate differences from A1111: <c>BREAK</c> inside a group still breaks (A1111 then tokenizes the word
/// "BREAK" with a negative weight); a weight that is not a number (<c>(a:1.2.3)</c>) leaves <c>:1.2.3)</c> as literal
/// text where A1111 fails the generation.</para>
/// </remarks>
public static partial class EmphasisParser
{
    /// <summary>Weight of one level of <c>( )</c>.</summary>
    public const double RoundBracketMultiplier = 1.1;

    /// <summary>Weight of one level of <c>[ ]</c>; A1111 multiplies by 1/1.1 rather than dividing by 1.1.</summary>
    public const double SquareBracketMultiplier = 1 / 1.1;

    /// <summary>Parses a prompt into weighted fragments and <c>BREAK</c> markers, in order.</summary>
    public static IReadOnlyList<PromptFragment> Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var fragments = new List<Entry>();
        var roundOpen = new Stack<int>();
        var squareOpen = new Stack<int>();

        foreach (var item in Scan(text))
        {
            switch (item.Kind)
            {
                case ItemKind.Escaped:
                    fragments.Add(new Entry(item.Text, 1.0));
                    break;
                case ItemKind.OpenRound:
                    roundOpen.Push(fragments.Count);
                    break;
                case ItemKind.OpenSquare:
                    squareOpen.Push(fragments.Count);
                    break;
                case ItemKind.WeightedClose when roundOpen.Count > 0 && TryParseWeight(item.Weight!, out var weight):
                    Multiply(fragments, roundOpen.Pop(), weight);
                    break;
                case ItemKind.CloseRound when roundOpen.Count > 0:
                    Multiply(fragments, roundOpen.Pop(), RoundBracketMultiplier);
                    break;
                case ItemKind.CloseSquare when squareOpen.Count > 0:
                    Multiply(fragments, squareOpen.Pop(), SquareBracketMultiplier);
                    break;
                default:
                    AddText(fragments, item.Text);
                    break;
            }
        }
        // Unclosed groups apply their default weight; round before square, the order of A1111's products.
        foreach (var start in roundOpen)
            Multiply(fragments, start, RoundBracketMultiplier);
        foreach (var start in squareOpen)
            Multiply(fragments, start, SquareBracketMultiplier);

        if (fragments.Count == 0)
            return [new PromptFragment("", 1.0)];
        return Merge(fragments);
    }

    // Literal text, split at each BREAK word; the text on both sides is kept even when empty (as A1111 does, which
    // matters for merging: an empty fragment of another weight keeps its neighbours apart).
    private static void AddText(List<Entry> fragments, string text)
    {
        var parts = BreakWord().Split(text);
        for (var i = 0; i < parts.Length; i++)
        {
            if (i > 0)
                fragments.Add(new Entry("BREAK", 1.0, IsBreak: true));
            fragments.Add(new Entry(parts[i], 1.0));
        }
    }

    private static void Multiply(List<Entry> fragments, int start, double multiplier)
    {
        for (var i = start; i < fragments.Count; i++)
        {
            if (!fragments[i].IsBreak)
                fragments[i] = fragments[i] with { Weight = fragments[i].Weight * multiplier };
        }
    }

    private static List<PromptFragment> Merge(List<Entry> fragments)
    {
        var merged = new List<PromptFragment>();
        var text = new StringBuilder(fragments[0].Text);
        var current = fragments[0];
        for (var i = 1; i < fragments.Count; i++)
        {
            var next = fragments[i];
            if (!current.IsBreak && !next.IsBreak && next.Weight == current.Weight)
            {
                text.Append(next.Text);
                continue;
            }
            merged.Add(current.IsBreak ? PromptFragment.Break : new PromptFragment(text.ToString(), current.Weight));
            current = next;
            text.Clear().Append(next.Text);
        }
        merged.Add(current.IsBreak ? PromptFragment.Break : new PromptFragment(text.ToString(), current.Weight));
        return merged;
    }

    // Python's float() on the digits-and-dots run the grammar allows; "1.2.3" or "." are not numbers.
    private static bool TryParseWeight(string weight, out double value) =>
        double.TryParse(weight, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out value);

    // A1111's re_break: BREAK as a whole word, with the whitespace around it.
    [GeneratedRegex(@"\s*\bBREAK\b\s*", RegexOptions.CultureInvariant)]
    private static partial Regex BreakWord();

    private enum ItemKind { Text, Escaped, OpenRound, OpenSquare, WeightedClose, CloseRound, CloseSquare }

    private readonly record struct Item(ItemKind Kind, string Text, string? Weight = null);

    private readonly record struct Entry(string Text, double Weight, bool IsBreak = false);

    // Splits the prompt into the grammar's items. At each position the first rule that matches wins:
    // escape, lone backslash, '(' , '[', ":w)", ')', ']', a run of ordinary text, lone ':'.
    private static IEnumerable<Item> Scan(string text)
    {
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            switch (c)
            {
                case '\\':
                    if (i + 1 < text.Length && text[i + 1] is '(' or ')' or '[' or ']' or '\\')
                    {
                        yield return new Item(ItemKind.Escaped, text[(i + 1)..(i + 2)]);
                        i += 2;
                    }
                    else
                    {
                        yield return new Item(ItemKind.Escaped, ""); // a lone backslash is dropped
                        i++;
                    }
                    break;
                case '(':
                    yield return new Item(ItemKind.OpenRound, "(");
                    i++;
                    break;
                case '[':
                    yield return new Item(ItemKind.OpenSquare, "[");
                    i++;
                    break;
                case ')':
                    yield return new Item(ItemKind.CloseRound, ")");
                    i++;
                    break;
                case ']':
                    yield return new Item(ItemKind.CloseSquare, "]");
                    i++;
                    break;
                case ':':
                    if (MatchWeightedClose(text, i, out var end, out var weight))
                    {
                        yield return new Item(ItemKind.WeightedClose, text[i..end], weight);
                        i = end;
                    }
                    else
                    {
                        yield return new Item(ItemKind.Text, ":");
                        i++;
                    }
                    break;
                default:
                    var start = i;
                    while (i < text.Length && text[i] is not ('\\' or '(' or ')' or '[' or ']' or ':'))
                        i++;
                    yield return new Item(ItemKind.Text, text[start..i]);
                    break;
            }
        }
    }

    // ":" whitespace? sign? [digits and dots]+ whitespace? ")" starting at text[start] == ':'.
    private static bool MatchWeightedClose(string text, int start, out int end, out string weight)
    {
        end = start;
        weight = "";
        var i = start + 1;
        while (i < text.Length && char.IsWhiteSpace(text[i]))
            i++;
        var numberStart = i;
        if (i < text.Length && text[i] is '+' or '-')
            i++;
        var digitsStart = i;
        while (i < text.Length && (text[i] == '.' || char.IsDigit(text[i])))
            i++;
        if (i == digitsStart)
            return false;
        var numberEnd = i;
        while (i < text.Length && char.IsWhiteSpace(text[i]))
            i++;
        if (i >= text.Length || text[i] != ')')
            return false;
        end = i + 1;
        weight = text[numberStart..numberEnd];
        return true;
    }
}
