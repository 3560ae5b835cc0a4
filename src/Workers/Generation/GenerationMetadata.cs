using System.Globalization;
using System.Text.Json;
using Easel.Core.Generation;
using Easel.Core.Jobs;

namespace Easel.Workers.Generation;

/// <summary>The text chunks written into every generated PNG.</summary>
public static class GenerationMetadata
{
    /// <summary>The A1111 chunk keyword; its text can be pasted back into A1111 or read by tools that know it.</summary>
    public const string ParametersKeyword = "parameters";

    /// <summary>Our own chunk: the full request as JSON, with the job id and the image's place in the batch.</summary>
    public const string EaselKeyword = "easel";

    /// <summary>
    /// A1111 style: <c>{prompt}\nNegative prompt: {negative}\nSteps: N, Sampler: X, CFG scale: G, Seed: S, Size: WxH, Model: M</c>
    /// (the negative prompt line is left out when it is empty, as A1111 does).
    /// </summary>
    public static string Parameters(GenerationParameters p, SchedulerCatalog schedulers)
    {
        var lines = new List<string> { p.Prompt };
        if (p.NegativePrompt.Length > 0)
            lines.Add($"Negative prompt: {p.NegativePrompt}");
        lines.Add(string.Create(CultureInfo.InvariantCulture,
            $"Steps: {p.Steps}, Sampler: {schedulers.DisplayName(p.Scheduler)}, CFG scale: {p.GuidanceScale}, Seed: {p.Seed}, Size: {p.Width}x{p.Height}, Model: {p.Model}{(p.Strength is { } strength ? $", Denoising strength: {strength.ToString(CultureInfo.InvariantCulture)}" : "")}"));
        return string.Join('\n', lines);
    }

    public static string Easel(Guid jobId, int index, GenerationParameters p) =>
        JsonSerializer.Serialize(new EaselChunk(jobId, index, p), JobJson.Options);

    public static IReadOnlyList<KeyValuePair<string, string>> TextChunks(Guid jobId, int index, GenerationParameters p, SchedulerCatalog schedulers) =>
    [
        new(ParametersKeyword, Parameters(p, schedulers)),
        new(EaselKeyword, Easel(jobId, index, p)),
    ];

    private sealed record EaselChunk(Guid JobId, int Index, GenerationParameters Request);
}
