using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Easel.Api.Extensions;

/// <summary>
/// The fields a request type accepts, read from the serializer's own contract for it (<see cref="JsonTypeInfo"/>: the
/// snake_case names of the record's properties, recursively through nested objects and arrays), so that a field added
/// to a request record is known at once and nothing keeps a list of names by hand. Finds what a JSON document sends
/// beyond that — unknown and repeated fields, and text no store can hold — and suggests the known name closest to a
/// misspelt one.
/// </summary>
public static class RequestContract
{
    /// <summary>At most this many unexpected fields are reported, so that a body of a million junk keys costs little.</summary>
    public const int MaxReportedFields = 50;

    /// <summary>Longer names get no suggestion (the edit distance grows with the product of the lengths).</summary>
    private const int MaxSuggestedNameLength = 64;

    /// <summary>
    /// Adds an error for every unknown or repeated member of <paramref name="element"/> (and of the objects nested in
    /// it), and for every string of a known one holding U+0000 or an unpaired surrogate, keyed by its path
    /// (<c>guidence_scale</c>, <c>loras[0].wieght</c>).
    /// </summary>
    public static void FindUnexpectedFields(JsonElement element, JsonTypeInfo type, Dictionary<string, string[]> errors) =>
        Walk(element, type, "", errors);

    /// <summary>The JSON names of the members of <paramref name="type"/>, in declaration order.</summary>
    public static IReadOnlyList<string> FieldNames(JsonTypeInfo type) => [.. type.Properties.Select(p => p.Name)];

    /// <summary>The JSON property of <paramref name="type"/> named <paramref name="name"/> (exactly), or null.</summary>
    public static JsonPropertyInfo? Field(JsonTypeInfo type, string name) =>
        type.Properties.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.Ordinal));

    /// <summary>"Unknown field 'x'; did you mean 'y'?" or, with no close name, the list of known ones.</summary>
    public static string UnknownFieldMessage(string name, string parent, IReadOnlyList<string> known)
    {
        var where = parent.Length == 0 ? "" : $" in {parent}";
        return ClosestName(name, known) is { } suggestion
            ? $"Unknown field '{name}'{where}; did you mean '{suggestion}'?"
            : $"Unknown field '{name}'{where}. Known fields: {string.Join(", ", known)}.";
    }

    /// <summary>
    /// The known name a client most likely meant: the same name in another case or spelling convention
    /// (<c>guidanceScale</c>, <c>Guidance-Scale</c>), else the nearest by edit distance (transpositions count once) when
    /// it is at most a third of the name's length away; null when nothing is that close.
    /// </summary>
    public static string? ClosestName(string name, IReadOnlyList<string> known)
    {
        if (name.Length > MaxSuggestedNameLength)
            return null;
        var normalized = Normalize(name);
        if (known.FirstOrDefault(k => Normalize(k) == normalized) is { } sameWord)
            return sameWord;
        var snake = JsonNamingPolicy.SnakeCaseLower.ConvertName(name);
        var best = known
            .Select(k => (Name: k, Distance: EditDistance(snake, k)))
            .OrderBy(k => k.Distance)
            .ThenBy(k => k.Name, StringComparer.Ordinal)
            .FirstOrDefault();
        return best.Name is not null && best.Distance <= Math.Max(1, snake.Length / 3) ? best.Name : null;
    }

    private static void Walk(JsonElement element, JsonTypeInfo type, string path, Dictionary<string, string[]> errors)
    {
        if (element.ValueKind == JsonValueKind.String && !IsStorableText(element))
        {
            errors[path] = [$"{path} contains a NUL character (U+0000) or an unpaired surrogate escape (\\ud800 …), which text cannot hold."];
            return;
        }
        switch (type.Kind)
        {
            case JsonTypeInfoKind.Object when element.ValueKind == JsonValueKind.Object:
                var known = FieldNames(type);
                var seen = new HashSet<string>(StringComparer.Ordinal);
                foreach (var member in element.EnumerateObject())
                {
                    if (errors.Count >= MaxReportedFields)
                        return;
                    var memberPath = Join(path, member.Name);
                    if (!seen.Add(member.Name))
                        errors[memberPath] = [$"The field '{member.Name}' is given more than once; send it once."];
                    else if (Field(type, member.Name) is { } property)
                        Walk(member.Value, type.Options.GetTypeInfo(property.PropertyType), memberPath, errors);
                    else
                        errors[memberPath] = [UnknownFieldMessage(member.Name, path, known)];
                }
                break;
            case JsonTypeInfoKind.Enumerable when element.ValueKind == JsonValueKind.Array && type.ElementType is { } itemType:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                    Walk(item, type.Options.GetTypeInfo(itemType), $"{path}[{index++}]", errors);
                break;
            case JsonTypeInfoKind.Dictionary when element.ValueKind == JsonValueKind.Object && type.ElementType is { } valueType:
                foreach (var member in element.EnumerateObject())
                    Walk(member.Value, type.Options.GetTypeInfo(valueType), Join(path, member.Name), errors);
                break;
        }
    }

    /// <summary>
    /// Text that every store can hold: PostgreSQL refuses U+0000 in text and jsonb, and strict UTF-8 encoders (Npgsql's)
    /// refuse unpaired surrogates, which JSON escapes can produce.
    /// </summary>
    private static bool IsStorableText(JsonElement text)
    {
        try
        {
            return IsStorableText(text.GetString()!);
        }
        catch (InvalidOperationException)
        {
            return false; // an escape that decodes to invalid UTF-16 (a lone \ud800)
        }
    }

    private static bool IsStorableText(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\0' || char.IsLowSurrogate(c))
                return false;
            if (char.IsHighSurrogate(c) && (++i >= text.Length || !char.IsLowSurrogate(text[i])))
                return false;
        }
        return true;
    }

    private static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";

    private static string Normalize(string name) =>
        new([.. name.Where(c => c is not ('_' or '-' or ' ' or '.')).Select(char.ToLowerInvariant)]);

    /// <summary>Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions.</summary>
    private static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
            d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++)
            d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }
}
