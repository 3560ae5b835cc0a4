using System.Globalization;
using System.Text;

namespace Easel.Inference.Text;

/// <summary>
/// The text cleaning transformers' slow CLIPTokenizer applies when ftfy is not installed: its
/// <c>BasicTokenizer(do_lower_case=True, strip_accents=False, do_split_on_punc=False)</c>. Drops NUL,
/// U+FFFD and every "C*" character, maps whitespace to ' ', puts spaces around CJK ideographs,
/// NFC-normalizes, splits on whitespace, lowercases each word like Python's <c>str.lower()</c>, and
/// joins the words with single spaces.
/// </summary>
internal static class ClipTextCleaner
{
    public static string Clean(string text)
    {
        var builder = new StringBuilder(text.Length + 8);
        foreach (var rune in text.EnumerateRunes())
        {
            var cp = rune.Value;
            if (cp == 0 || cp == 0xFFFD || IsControl(rune))
                continue;
            if (IsWhitespace(rune))
                builder.Append(' ');
            else if (IsCjkIdeograph(cp))
                builder.Append(' ').Append(rune.ToString()).Append(' ');
            else
                builder.Append(rune.ToString());
        }
        // Not string.Normalize: under InvariantGlobalization it does not compose.
        var normalized = NfcNormalizer.Normalize(builder.ToString());
        // Python's str.split() splits on every Unicode whitespace (Zl/Zp survive _clean_text), like char.IsWhiteSpace.
        var words = normalized.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        return string.Join(' ', words.Select(PythonLower));
    }

    /// <summary>
    /// Python's <c>str.lower()</c>: full Unicode lowercase mapping. It differs from .NET's simple mapping for
    /// U+0130 (→ "i̇", two code points) and for capital sigma, which becomes final sigma at the end of a word.
    /// </summary>
    internal static string PythonLower(string word)
    {
        var runes = word.EnumerateRunes().ToArray();
        var builder = new StringBuilder(word.Length);
        for (var i = 0; i < runes.Length; i++)
        {
            var rune = runes[i];
            if (rune.Value == 0x0130)
                builder.Append("i\u0307");
            else if (rune.Value == 0x03A3)
                builder.Append(IsFinalSigma(runes, i) ? '\u03C2' : '\u03C3');
            else
                builder.Append(Rune.ToLowerInvariant(rune).ToString());
        }
        return builder.ToString();
    }

    // CPython's Final_Sigma rule: preceded by a cased letter and not followed by one, skipping case-ignorables.
    private static bool IsFinalSigma(Rune[] runes, int index)
    {
        var j = index - 1;
        while (j >= 0 && IsCaseIgnorable(runes[j]))
            j--;
        if (j < 0 || !IsCased(runes[j]))
            return false;
        j = index + 1;
        while (j < runes.Length && IsCaseIgnorable(runes[j]))
            j++;
        return j == runes.Length || !IsCased(runes[j]);
    }

    private static bool IsCased(Rune rune)
    {
        var category = Rune.GetUnicodeCategory(rune);
        return category is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
               || Rune.ToLowerInvariant(rune) != Rune.ToUpperInvariant(rune);
    }

    private static bool IsCaseIgnorable(Rune rune)
    {
        var category = Rune.GetUnicodeCategory(rune);
        if (category is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.Format
            or UnicodeCategory.ModifierLetter or UnicodeCategory.ModifierSymbol)
            return true;
        // Word_Break MidLetter / MidNumLet / Single_Quote characters.
        return rune.Value is 0x27 or 0x2E or 0x3A or 0xB7 or 0x387 or 0x55F or 0x5F4 or 0x2018 or 0x2019 or 0x2024
            or 0x2027 or 0xFE13 or 0xFE52 or 0xFE55 or 0xFF07 or 0xFF0E or 0xFF1A;
    }

    // transformers' _is_whitespace: the four ASCII whitespace characters or any space separator (Zs).
    private static bool IsWhitespace(Rune rune) =>
        rune.Value is ' ' or '\t' or '\n' or '\r' || Rune.GetUnicodeCategory(rune) == UnicodeCategory.SpaceSeparator;

    // transformers' _is_control: any "C*" category except tab, newline and carriage return. "Unassigned" means
    // unassigned in the reference Python's Unicode version, which is older than .NET's.
    private static bool IsControl(Rune rune)
    {
        if (rune.Value is '\t' or '\n' or '\r')
            return false;
        return Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
            or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned || IsUnassignedInPython(rune.Value);
    }

    private static bool IsUnassignedInPython(int cp)
    {
        // Binary search over the sorted inclusive (start, end) pairs.
        var ranges = PythonUnicodeData.UnassignedRanges;
        int lo = 0, hi = ranges.Length / 2 - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) / 2;
            if (cp < ranges[2 * mid])
                hi = mid - 1;
            else if (cp > ranges[2 * mid + 1])
                lo = mid + 1;
            else
                return true;
        }
        return false;
    }

    // transformers' _is_chinese_char: the CJK Unified Ideographs blocks (not kana or hangul).
    private static bool IsCjkIdeograph(int cp) =>
        cp is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF or >= 0x2A700 and <= 0x2B73F
            or >= 0x2B740 and <= 0x2B81F or >= 0x2B820 and <= 0x2CEAF or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;
}
