namespace Easel.Core.Generation;

/// <summary>
/// Reads <c>attend_and_excite</c> and <c>structured_guidance</c> of a generation into their validated forms, with the defaults
/// decided; what is malformed goes to the errors under its field path (<c>attend_and_excite.tokens[1]</c>).
/// </summary>
public static class AttentionGuidanceReader
{
    /// <summary>Token positions a prompt can fill (CLIP's 77 less the start and end tokens).</summary>
    public const int MaxTokenIndex = 75;

    public const int MaxSubjects = 16;

    public const int MaxNounPhrases = 16;

    /// <summary>Diffusers' defaults are given for 50 steps; the service scales their step indices to the request's steps.</summary>
    public const int DefaultsSteps = 50;

    public const int DefaultMaxIterToAlter = 25;

    public const double DefaultScaleFactor = 20;

    public static readonly IReadOnlyDictionary<int, double> DefaultThresholds = new Dictionary<int, double> { [0] = 0.05, [10] = 0.5, [20] = 0.8 };

    private static readonly char[] Punctuation = [',', '.', ';', ':', '!', '?', '(', ')', '[', ']', '"', '\''];

    public static AttendAndExciteUse? ReadAttendAndExcite(AttendAndExciteRequest? request, string prompt, int steps, Action<string, string> add)
    {
        if (request is null)
            return null;
        const string field = "attend_and_excite";
        var tokens = request.Tokens is { Count: > 0 } t ? t : null;
        var indices = request.Indices is { Count: > 0 } ix ? ix : null;
        if (tokens is null && indices is null)
            add($"{field}.tokens", "Name the subjects to excite: tokens (words of the prompt, [\"cat\", \"frog\"]) or indices (token positions).");
        if (tokens is not null && indices is not null)
            add($"{field}.indices", "Send tokens or indices, not both.");
        if ((tokens?.Count ?? indices?.Count ?? 0) > MaxSubjects)
            add(tokens is not null ? $"{field}.tokens" : $"{field}.indices", $"At most {MaxSubjects} subjects.");
        var words = PromptWordSet(prompt);
        for (var i = 0; i < (tokens?.Count ?? 0); i++)
        {
            var token = tokens![i]?.Trim() ?? "";
            if (token.Length == 0 || token.Contains(' '))
                add($"{field}.tokens[{i}]", "Each token is one word of the prompt (\"cat\").");
            else if (!words.Contains(Bare(token)))
                add($"{field}.tokens[{i}]", $"'{token}' is not a word of the prompt; the subjects must be words the prompt has.");
        }
        for (var i = 0; i < (indices?.Count ?? 0); i++)
            if (indices![i] < 1 || indices[i] > MaxTokenIndex)
                add($"{field}.indices[{i}]", $"A token index is between 1 (the first token after the start token) and {MaxTokenIndex}.");

        var maxIter = request.MaxIterToAlter ?? Scaled(DefaultMaxIterToAlter, steps);
        if (maxIter < 0 || maxIter > steps)
            add($"{field}.max_iter_to_alter", $"max_iter_to_alter must be between 0 and the steps ({steps}).");
        var thresholds = request.Thresholds is { } given ? (IReadOnlyDictionary<int, double>)given : ScaledThresholds(steps);
        foreach (var (step, threshold) in thresholds)
        {
            if (step < 0 || step >= steps)
                add($"{field}.thresholds.{step}", $"A refinement step is between 0 and steps − 1 ({steps - 1}).");
            if (!double.IsFinite(threshold) || threshold <= 0 || threshold > 1)
                add($"{field}.thresholds.{step}", "A threshold is in (0, 1]: the refinement stops once every subject's maximum attention reaches it.");
        }
        var scale = request.ScaleFactor ?? DefaultScaleFactor;
        if (!double.IsFinite(scale) || scale <= 0 || scale > 1000)
            add($"{field}.scale_factor", "scale_factor must be greater than 0 and at most 1000.");
        if (request.AttnRes is { } res && (res.Count != 2 || res.Any(r => r < 1 || r > 256)))
            add($"{field}.attn_res", "attn_res is [height, width] of the cross-attention maps, in latent cells (1 … 256 each).");
        return new AttendAndExciteUse(tokens?.Select(x => x?.Trim() ?? "").ToList(), indices, maxIter, thresholds, scale, request.AttnRes,
            request.ProbeEveryStep ?? true);
    }

    public static StructuredGuidanceUse? ReadStructuredGuidance(StructuredGuidanceRequest? request, string prompt, Action<string, string> add)
    {
        if (request is null)
            return null;
        const string field = "structured_guidance";
        var phrases = request.NounPhrases is { Count: > 0 } p ? p : null;
        if (phrases?.Count > MaxNounPhrases)
            add($"{field}.noun_phrases", $"At most {MaxNounPhrases} noun phrases.");
        var words = PromptWords(prompt);
        for (var i = 0; i < (phrases?.Count ?? 0); i++)
        {
            var phrase = phrases![i]?.Trim() ?? "";
            if (phrase.Length == 0)
                add($"{field}.noun_phrases[{i}]", "A noun phrase is words of the prompt (\"a red circle\").");
            else if (!Occurs(words, phrase))
                add($"{field}.noun_phrases[{i}]", $"'{phrase}' is not in the prompt as whole words; each noun phrase is a span of the prompt.");
        }
        var steps = request.Steps ?? 1.0;
        if (!double.IsFinite(steps) || steps < 0 || steps > 1)
            add($"{field}.steps", "steps is the fraction of the steps the guidance applies on, from the first: 0 … 1.");
        return new StructuredGuidanceUse(phrases?.Select(x => x?.Trim() ?? "").ToList(), steps);
    }

    /// <summary>A 50-step default index at <paramref name="steps"/> steps.</summary>
    private static int Scaled(int index, int steps) => (int)Math.Round(index * (double)steps / DefaultsSteps, MidpointRounding.AwayFromZero);

    /// <summary>The default refinement steps at the request's steps; where two land on one step the later (higher) threshold holds.</summary>
    private static Dictionary<int, double> ScaledThresholds(int steps)
    {
        var scaled = new Dictionary<int, double>();
        foreach (var (step, threshold) in DefaultThresholds.OrderBy(t => t.Key))
            scaled[Math.Min(Scaled(step, steps), Math.Max(0, steps - 1))] = threshold;
        return scaled;
    }

    private static string[] PromptWords(string prompt) => [.. prompt.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(Bare)];

    private static HashSet<string> PromptWordSet(string prompt) => new(PromptWords(prompt), StringComparer.OrdinalIgnoreCase);

    private static bool Occurs(string[] words, string phrase)
    {
        var wanted = phrase.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(Bare).ToArray();
        for (var first = 0; first + wanted.Length <= words.Length; first++)
            if (wanted.Select((w, k) => string.Equals(w, words[first + k], StringComparison.OrdinalIgnoreCase)).All(same => same))
                return true;
        return false;
    }

    private static string Bare(string word) => word.Trim(Punctuation);
}
