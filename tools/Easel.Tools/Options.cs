namespace Easel.Tools;

/// <summary>"--name value" pairs from the command line.</summary>
internal sealed class Options
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public Options(string[] args)
    {
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
                throw new ArgumentException($"Expected '--name value', found '{args[i]}'.");
            _values[args[i][2..]] = args[++i];
        }
    }

    public string String(string name, string fallback) => _values.GetValueOrDefault(name, fallback);

    public string? OptionalString(string name, string? fallback) => _values.TryGetValue(name, out var v) ? v : fallback;

    public bool? OptionalBool(string name, bool? fallback) => _values.TryGetValue(name, out var v) ? bool.Parse(v) : fallback;

    public int? OptionalInt(string name, int? fallback) => _values.TryGetValue(name, out var v) ? int.Parse(v) : fallback;

    public int Int(string name, int fallback) => _values.TryGetValue(name, out var v) ? int.Parse(v) : fallback;

    public double Double(string name, double fallback) =>
        _values.TryGetValue(name, out var v) ? double.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : fallback;
}
