using System.Text.RegularExpressions;

namespace Easel.Core.Artifacts;

/// <summary>
/// What an artifact may be called: letters, digits, <c>_ . -</c>, starting with a letter or digit, so that the name can
/// stand in an A1111 prompt (<c>&lt;lora:name:0.8&gt;</c>) and in a file name unquoted.
/// </summary>
public static partial class ArtifactNames
{
    public const int MaxLength = 100;

    public static bool IsValid(string name) => name.Length <= MaxLength && Pattern().IsMatch(name);

    public const string Rule = "1–100 characters: letters, digits, '_', '.' and '-', starting with a letter or digit";

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    private static partial Regex Pattern();
}
