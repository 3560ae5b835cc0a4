using Easel.Core.Generation;
using Easel.Inference.Guidance.AttendAndExcite;
using Easel.Inference.Guidance.StructuredDiffusion;
using Easel.Inference.Pipelines.Denoising;
using Easel.Inference.Text;
using Easel.Inference.Text.Prompting;

namespace Easel.Workers.Generation;

/// <summary>A generation's Attend-and-Excite and Structured Diffusion Guidance as the denoising extensions that run them.</summary>
internal static class AttentionGuidanceExtensions
{
    public static IReadOnlyList<IDenoisingExtension> For(GenerationParameters p, ClipTokenizer? tokenizer)
    {
        if (p.AttendAndExcite is null && p.StructuredGuidance is null)
            return [];
        if (tokenizer is null)
            throw new NotSupportedException($"Model '{p.Model}' has no CLIP tokenizer this worker can read, which attention guidance needs.");
        var extensions = new List<IDenoisingExtension>();
        if (p.AttendAndExcite is { } excite)
            extensions.Add(new AttendAndExciteExtension(new AttendAndExciteSettings(
                SubjectIndices(excite, tokenizer, p.Prompt), excite.MaxIterToAlter, excite.Thresholds, excite.ScaleFactor,
                excite.AttnRes is [var height, var width] ? (height, width) : null, ProbeEveryStep: excite.ProbeEveryStep)));
        if (p.StructuredGuidance is { } structured)
            extensions.Add(new StructuredDiffusionExtension(PhraseSpan.Resolve(tokenizer, p.Prompt, structured.NounPhrases), structured.Steps));
        return extensions;
    }

    /// <summary>The token positions of the subject words (every token of a word of several), or the client's indices.</summary>
    private static IReadOnlyList<int> SubjectIndices(AttendAndExciteUse excite, ClipTokenizer tokenizer, string prompt)
    {
        if (excite.Tokens is not { Count: > 0 } tokens)
            return excite.Indices ?? throw new InvalidDataException("The job's attend_and_excite names no subjects.");
        var words = PromptWords.Of(tokenizer, prompt);
        var indices = new List<int>();
        foreach (var token in tokens)
        {
            var positions = words.PositionsOf(token);
            if (positions.Length == 0)
                throw new ArgumentException($"attend_and_excite.tokens: '{token}' is not among the prompt's first {PromptWords.MaxWordTokens} tokens.");
            indices.AddRange(positions.Where(p => !indices.Contains(p)));
        }
        return indices;
    }
}
