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
    /// The seed that regenerates image <paramref name="index"/> of the batch alone: seed + index with per-image seeds; null
    /// in batch mode, where the image depends on the whole batch.
    /// </summary>
    public static long? ImageSeed(GenerationParameters p, int index) => p.SeedMode == SeedMode.PerImage ? p.Seed + index : null;

    /// <summary>
    /// A1111 style: <c>{prompt}\nNegative prompt: {negative}\nSteps: N, Sampler: X, CFG scale: G, Seed: S, Size: WxH, Model: M</c>
    /// (the negative prompt line is left out when it is empty, as A1111 does). Seed is the image's own seed (seed + index);
    /// a batch-mode image has no such seed, so instead of Seed it says <c>Batch seed</c>, <c>Batch size</c> and
    /// <c>Batch pos</c> (A1111's names for the place in a batch), and pasting it into A1111 does not claim to reproduce it.
    /// </summary>
    public static string Parameters(GenerationParameters p, int index, SchedulerCatalog schedulers)
    {
        var lines = new List<string> { p.Prompt };
        if (p.NegativePrompt.Length > 0)
            lines.Add($"Negative prompt: {p.NegativePrompt}");
        var seed = ImageSeed(p, index) is { } imageSeed ? $"Seed: {imageSeed}" : $"Batch seed: {p.Seed}, Batch size: {p.NumImages}, Batch pos: {index}";
        lines.Add(string.Create(CultureInfo.InvariantCulture,
            $"Steps: {p.Steps}, Sampler: {schedulers.DisplayName(p.Scheduler)}, CFG scale: {p.GuidanceScale}, {seed}, Size: {p.Width}x{p.Height}, Model: {p.Model}{(p.Strength is { } strength ? $", Denoising strength: {strength.ToString(CultureInfo.InvariantCulture)}" : "")}"));
        return string.Join('\n', lines);
    }

    /// <param name="request">The job's stored request (the generation's, or the edit's that <paramref name="p"/> was made from).</param>
    public static string Easel(Guid jobId, int index, GenerationParameters p, object? request = null) =>
        JsonSerializer.Serialize(new EaselChunk(jobId, index, ImageSeed(p, index), request ?? p), JobJson.Options);

    public static IReadOnlyList<KeyValuePair<string, string>> TextChunks(Guid jobId, int index, GenerationParameters p, SchedulerCatalog schedulers,
        object? request = null) =>
    [
        new(ParametersKeyword, Parameters(p, index, schedulers)),
        new(EaselKeyword, Easel(jobId, index, p, request)),
    ];

    /// <param name="Seed">The seed that regenerates this image alone (<see cref="ImageSeed"/>); null in batch mode.</param>
    private sealed record EaselChunk(Guid JobId, int Index, long? Seed, object Request);
}
