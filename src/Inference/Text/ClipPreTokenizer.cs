using System.Globalization;
using System.Text;

namespace Easel.Inference.Text;

/// <summary>
/// CLIP's word splitter, equivalent to <c>re.findall</c> with the pattern
/// <c>&lt;\|startoftext\|&gt;|&lt;\|endoftext\|&gt;|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+</c> (IGNORECASE)
/// of the Python <c>regex</c> module. Written as a scanner over code points rather than a .NET Regex because .NET
/// classifies UTF-16 code units: an astral letter or digit (a surrogate pair) would fall into the punctuation class.
/// </summary>
internal static class ClipPreTokenizer
{
    private static readonly string[] Literals = ["<|startoftext|>", "<|endoftext|>", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d"];

    public static List<string> Split(string text)
    {
        var pieces = new List<string>();
        var i = 0;
        while (i < text.Length)
        {
            // Alternatives are tried in pattern order at the leftmost position, as the regex engine does.
            var literal = MatchLiteral(text, i);
            if (literal > 0)
            {
                pieces.Add(text.Substring(i, literal));
                i += literal;
                continue;
            }
            var rune = Rune.GetRuneAt(text, i);
            var kind = Classify(rune);
            if (kind == CharKind.Whitespace)
            {
                i += rune.Utf16SequenceLength;
                continue;
            }
            if (kind == CharKind.Number)
            {
                pieces.Add(rune.ToString());
                i += rune.Utf16SequenceLength;
                continue;
            }
            var start = i;
            // [\p{L}]+ or [^\s\p{L}\p{N}]+: a greedy run of the same class.
            while (i < text.Length)
            {
                var next = Rune.GetRuneAt(text, i);
                if (Classify(next) != kind)
                    break;
                i += next.Utf16SequenceLength;
            }
            pieces.Add(text[start..i]);
        }
        return pieces;
    }

    private static int MatchLiteral(string text, int index)
    {
        foreach (var literal in Literals)
        {
            if (index + literal.Length > text.Length)
                continue;
            var matches = true;
            for (var k = 0; k < literal.Length && matches; k++)
                matches = FoldsTo(text[index + k], literal[k]);
            if (matches)
                return literal.Length;
        }
        return 0;
    }

    // IGNORECASE uses simple case folding: besides the ASCII case pairs, 'ſ' (long s) matches 's' and the Kelvin sign 'k'.
    private static bool FoldsTo(char c, char literal) =>
        c == literal || char.ToLowerInvariant(c) == literal || (literal == 's' && c == '\u017F');

    // Whitespace = matched by no alternative (skipped).
    private enum CharKind { Whitespace, Letter, Number, Other }

    private static CharKind Classify(Rune rune)
    {
        // U+0345 (combining ypogegrammeni, Mn) case-folds to the letter ι, so under IGNORECASE the regex module
        // matches it with none of the classes: findall skips it like whitespace. The only such code point.
        if (rune.Value == 0x0345)
            return CharKind.Whitespace;
        switch (Rune.GetUnicodeCategory(rune))
        {
            case UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter:
                return CharKind.Letter;
            case UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber:
                return CharKind.Number;
        }
        return Rune.IsWhiteSpace(rune) ? CharKind.Whitespace : CharKind.Other;
    }
}
