using System.Text.Json;

namespace Easel.Inference.Customization;

/// <summary>
/// A fine-tune method's view of <see cref="FineTuneSettings.Parameters"/>: typed reads with defaults, each failing with an
/// <see cref="ArgumentException"/> whose parameter name is the JSON field, and a check that no unknown field was given (a
/// misspelt "rnak" would otherwise train with the default silently).
/// </summary>
internal sealed class FineTuneParameters
{
    private readonly string _method;
    private readonly IReadOnlyDictionary<string, JsonElement> _values;

    /// <exception cref="ArgumentException">A field that is not one of <paramref name="known"/>.</exception>
    public FineTuneParameters(string method, IReadOnlyDictionary<string, JsonElement>? values, params string[] known)
    {
        _method = method;
        _values = values ?? new Dictionary<string, JsonElement>();
        var unknown = _values.Keys.Where(k => !known.Contains(k, StringComparer.Ordinal)).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException(
                $"The {method} fine-tune has no parameter {string.Join(", ", unknown.Select(u => $"'{u}'"))}; it takes {string.Join(", ", known)}.", unknown[0]);
    }

    /// <summary>An integer of at least <paramref name="minimum"/>, or <paramref name="fallback"/> when absent.</summary>
    public int Int(string name, int fallback, int minimum)
    {
        if (!_values.TryGetValue(name, out var value))
            return fallback;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var number))
            throw Invalid(name, $"must be an integer; got {value.GetRawText()}");
        if (number < minimum)
            throw Invalid(name, $"must be at least {minimum}; got {number}");
        return number;
    }

    /// <summary>A finite number above zero, or <paramref name="fallback"/> when absent.</summary>
    public double Positive(string name, double fallback)
    {
        if (!_values.TryGetValue(name, out var value))
            return fallback;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var number) || !double.IsFinite(number))
            throw Invalid(name, $"must be a number; got {value.GetRawText()}");
        if (number <= 0)
            throw Invalid(name, $"must be above 0; got {number}");
        return number;
    }

    /// <summary>A non-blank string, or <paramref name="fallback"/> when absent; null fallback = required.</summary>
    public string String(string name, string? fallback = null)
    {
        if (!_values.TryGetValue(name, out var value))
            return fallback ?? throw Invalid(name, "is required");
        if (value.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(value.GetString()))
            throw Invalid(name, $"must be a non-empty string; got {value.GetRawText()}");
        return value.GetString()!;
    }

    /// <summary>A non-empty array of non-blank strings, or <paramref name="fallback"/> when absent.</summary>
    public IReadOnlyList<string> Strings(string name, IReadOnlyList<string> fallback)
    {
        if (!_values.TryGetValue(name, out var value))
            return fallback;
        if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() == 0 ||
            value.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(e.GetString())))
            throw Invalid(name, $"must be a non-empty array of names; got {value.GetRawText()}");
        return value.EnumerateArray().Select(e => e.GetString()!).ToList();
    }

    /// <summary>An error about parameter <paramref name="name"/>: "The {method} parameter '{name}' {problem}."</summary>
    public ArgumentException Invalid(string name, string problem) => new($"The {_method} parameter '{name}' {problem}.", name);
}
