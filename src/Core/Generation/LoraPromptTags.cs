using System.Globalization;
using System.Text.RegularExpressions;

namespace Easel.Core.Generation;

/// <summary>
/// The AUTOMATIC1111 prompt form of a LoRA: <c>&lt;lora:name&gt;</c> or <c>&lt;lora:name:0.8&gt;</c> anywhere in the prompt
/// or the negative prompt. The tags are taken out of the text before it is encoded (the text encoder never sees them) and
/// become LoRAs of the request, as in A1111.
/// </summary>
public static partial class LoraPromptTags
{
    /// <summary>One tag: its artifact name and scale (1 when the tag gives none), or why its scale is unreadable.</summary>
    public sealed record Tag(string Name, double Scale, string? Problem);

    /// <summary>The prompt without its tags (whitespace around a removed tag collapsed), and the tags in order.</summary>
    public static (string Text, IReadOnlyList<Tag> Tags) Extract(string prompt)
    {
        var tags = new List<Tag>();
        var text = TagPattern().Replace(prompt, match =>
        {
            var name = match.Groups["name"].Value.Trim();
            var scale = 1.0;
            string? problem = null;
            if (match.Groups["scale"].Success && !double.TryParse(match.Groups["scale"].Value.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out scale))
                problem = match.Groups["scale"].Value.Contains(':')
                    ? $"'{match.Value}': separate text-encoder and UNet weights are not supported; give one scale, as in <lora:{name}:0.8>."
                    : $"'{match.Value}': the scale after the name must be a number, as in <lora:{name}:0.8>.";
            tags.Add(new Tag(name, scale, problem));
            return " ";
        });
        if (tags.Count == 0)
            return (prompt, tags);
        return (Spaces().Replace(text, " ").Trim(), tags);
    }

    [GeneratedRegex(@"<lora:(?<name>[^:>]+)(?::(?<scale>[^>]*))?>", RegexOptions.IgnoreCase)]
    private static partial Regex TagPattern();

    [GeneratedRegex(@" {2,}")]
    private static partial Regex Spaces();
}
