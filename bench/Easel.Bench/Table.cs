namespace Easel.Bench;

/// <summary>A plain-text table printed to the console.</summary>
internal sealed class Table(params string[] headers)
{
    private readonly List<string[]> _rows = [];

    /// <summary>Adds a row (and echoes it to stderr at once, so a long run shows progress).</summary>
    public void Add(params object[] cells)
    {
        var row = cells.Select(c => c switch
        {
            double d => d.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture),
            _ => c?.ToString() ?? "",
        }).ToArray();
        _rows.Add(row);
        Console.Error.WriteLine("  " + string.Join(" | ", row));
    }

    public void Print(TextWriter writer)
    {
        var widths = headers.Select((h, i) => Math.Max(h.Length, _rows.Count == 0 ? 0 : _rows.Max(r => r[i].Length))).ToArray();
        writer.WriteLine("| " + string.Join(" | ", headers.Select((h, i) => h.PadRight(widths[i]))) + " |");
        writer.WriteLine("|" + string.Join("|", widths.Select(w => new string('-', w + 2))) + "|");
        foreach (var row in _rows)
            writer.WriteLine("| " + string.Join(" | ", row.Select((c, i) => c.PadRight(widths[i]))) + " |");
        writer.Flush();
    }
}
