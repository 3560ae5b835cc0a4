namespace Easel.Core.Generation;

/// <summary>
/// The scheduler names a request may use: the canonical snake_case names the inference core understands, and the
/// display names A1111 writes into its "parameters" text, so that its parameters can be pasted back.
/// </summary>
public static class SchedulerNames
{
    public const string Ddim = "ddim";
    public const string Euler = "euler";

    /// <summary>Canonical names, in the order the API lists them.</summary>
    public static IReadOnlyList<string> All { get; } = [Ddim, Euler];

    private static readonly Dictionary<string, string> Aliases = new(StringComparer.Ordinal)
    {
        [Ddim] = Ddim,
        [Euler] = Euler,
        ["DDIM"] = Ddim,
        ["Euler"] = Euler,
    };

    private static readonly Dictionary<string, string> DisplayNames = new(StringComparer.Ordinal)
    {
        [Ddim] = "DDIM",
        [Euler] = "Euler",
    };

    /// <summary>Accepted spellings (canonical and A1111 aliases) of each canonical name.</summary>
    public static IReadOnlyList<string> AliasesOf(string canonical) =>
        Aliases.Where(a => a.Value == canonical && a.Key != canonical).Select(a => a.Key).ToList();

    public static bool TryNormalize(string? name, out string canonical)
    {
        canonical = "";
        if (name is null || !Aliases.TryGetValue(name.Trim(), out var found))
            return false;
        canonical = found;
        return true;
    }

    /// <summary>The A1111 "Sampler:" name of a canonical scheduler.</summary>
    public static string DisplayName(string canonical) => DisplayNames.GetValueOrDefault(canonical, canonical);
}
