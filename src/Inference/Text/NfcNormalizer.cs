using System.Text;

namespace Easel.Inference.Text;

/// <summary>
/// Unicode NFC (canonical decomposition, canonical ordering, canonical composition) over tables generated from
/// Python's unicodedata (<see cref="PythonUnicodeData"/>). Needed because with InvariantGlobalization .NET's
/// <c>string.Normalize</c> leaves text unchanged, while CLIP's cleaning step composes "A" + U+0301 into "Á".
/// </summary>
internal static class NfcNormalizer
{
    private const int HangulSBase = 0xAC00, HangulLBase = 0x1100, HangulVBase = 0x1161, HangulTBase = 0x11A7;
    private const int HangulLCount = 19, HangulVCount = 21, HangulTCount = 28;
    private const int HangulNCount = HangulVCount * HangulTCount, HangulSCount = HangulLCount * HangulNCount;

    private static readonly Dictionary<int, int> CombiningClass = BuildClasses();
    private static readonly Dictionary<int, int[]> Decomposition = BuildDecompositions();
    private static readonly Dictionary<long, int> Composition = BuildCompositions();

    public static string Normalize(string text)
    {
        // Below U+0300 nothing decomposes or combines (Latin-1 precomposed letters are already NFC).
        if (text.All(c => c < 0x300))
            return text;

        var decomposed = new List<int>(text.Length + 8);
        foreach (var rune in text.EnumerateRunes())
            Decompose(rune.Value, decomposed);
        ReorderCombiningMarks(decomposed);
        var composed = Compose(decomposed);

        var builder = new StringBuilder(text.Length);
        foreach (var cp in composed)
            builder.Append(new Rune(cp).ToString());
        return builder.ToString();
    }

    private static int ClassOf(int cp) => CombiningClass.TryGetValue(cp, out var c) ? c : 0;

    private static void Decompose(int cp, List<int> into)
    {
        var s = cp - HangulSBase;
        if (s is >= 0 and < HangulSCount)
        {
            into.Add(HangulLBase + s / HangulNCount);
            into.Add(HangulVBase + s % HangulNCount / HangulTCount);
            if (s % HangulTCount != 0)
                into.Add(HangulTBase + s % HangulTCount);
            return;
        }
        if (Decomposition.TryGetValue(cp, out var parts))
            into.AddRange(parts);
        else
            into.Add(cp);
    }

    // Canonical ordering: a stable sort by combining class within every run of non-starters.
    private static void ReorderCombiningMarks(List<int> cps)
    {
        for (var i = 1; i < cps.Count; i++)
        {
            var c = ClassOf(cps[i]);
            if (c == 0)
                continue;
            var j = i;
            while (j > 0 && ClassOf(cps[j - 1]) > c)
            {
                (cps[j - 1], cps[j]) = (cps[j], cps[j - 1]);
                j--;
            }
        }
    }

    // UAX #15 composition: a mark joins the last starter unless a character in between blocks it.
    private static List<int> Compose(List<int> cps)
    {
        var output = new List<int>(cps.Count);
        if (cps.Count == 0)
            return output;
        var starterIndex = 0;
        var starter = cps[0];
        output.Add(starter);
        var lastClass = ClassOf(starter);
        if (lastClass != 0)
            lastClass = 256; // a leading non-starter can never be composed with
        for (var i = 1; i < cps.Count; i++)
        {
            var cp = cps[i];
            var cls = ClassOf(cp);
            if ((lastClass < cls || lastClass == 0) && TryCompose(starter, cp, out var composite))
            {
                output[starterIndex] = composite;
                starter = composite;
                continue;
            }
            if (cls == 0)
            {
                starterIndex = output.Count;
                starter = cp;
            }
            lastClass = cls;
            output.Add(cp);
        }
        return output;
    }

    private static bool TryCompose(int first, int second, out int composite)
    {
        var l = first - HangulLBase;
        var v = second - HangulVBase;
        if (l is >= 0 and < HangulLCount && v is >= 0 and < HangulVCount)
        {
            composite = HangulSBase + (l * HangulVCount + v) * HangulTCount;
            return true;
        }
        var s = first - HangulSBase;
        var t = second - HangulTBase;
        if (s is >= 0 and < HangulSCount && s % HangulTCount == 0 && t is > 0 and < HangulTCount)
        {
            composite = first + t;
            return true;
        }
        return Composition.TryGetValue(((long)first << 21) | (uint)second, out composite);
    }

    private static Dictionary<int, int> BuildClasses()
    {
        var table = new Dictionary<int, int>(PythonUnicodeData.CombiningClasses.Length / 2);
        for (var i = 0; i < PythonUnicodeData.CombiningClasses.Length; i += 2)
            table[PythonUnicodeData.CombiningClasses[i]] = PythonUnicodeData.CombiningClasses[i + 1];
        return table;
    }

    private static Dictionary<int, int[]> BuildDecompositions()
    {
        var table = new Dictionary<int, int[]>();
        var data = PythonUnicodeData.Decompositions;
        for (var i = 0; i < data.Length;)
        {
            var cp = data[i];
            var length = data[i + 1];
            table[cp] = data.AsSpan(i + 2, length).ToArray();
            i += 2 + length;
        }
        return table;
    }

    private static Dictionary<long, int> BuildCompositions()
    {
        var table = new Dictionary<long, int>(PythonUnicodeData.Compositions.Length / 3);
        for (var i = 0; i < PythonUnicodeData.Compositions.Length; i += 3)
            table[((long)PythonUnicodeData.Compositions[i] << 21) | (uint)PythonUnicodeData.Compositions[i + 1]] = PythonUnicodeData.Compositions[i + 2];
        return table;
    }
}
