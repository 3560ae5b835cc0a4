using Easel.Core.Models;
using Easel.Core.Options;
using Microsoft.Extensions.Options;

namespace Easel.Core.Generation;

/// <summary>
/// Checks a <see cref="GenerationRequest"/> against the configured limits, models and schedulers. Errors are keyed by
/// the snake_case JSON field name, ready for an RFC 9457 validation problem.
/// </summary>
public sealed class GenerationRequestValidator(IOptions<GenerationOptions> options, IModelCatalog catalog)
{
    /// <summary>Largest seed accepted: seeds must survive a round trip through JSON numbers and A1111's parser.</summary>
    public const long MaxSeed = (1L << 53) - 1;

    public GenerationValidationResult Validate(GenerationRequest request)
    {
        var limits = options.Value;
        var errors = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        void Add(string field, string message)
        {
            if (!errors.TryGetValue(field, out var list))
                errors[field] = list = [];
            list.Add(message);
        }

        if (string.IsNullOrWhiteSpace(request.Prompt))
            Add("prompt", "The prompt is required.");
        else if (request.Prompt.Length > limits.MaxPromptLength)
            Add("prompt", $"The prompt must be at most {limits.MaxPromptLength} characters long.");
        if (request.NegativePrompt is { Length: var negativeLength } && negativeLength > limits.MaxPromptLength)
            Add("negative_prompt", $"The negative prompt must be at most {limits.MaxPromptLength} characters long.");

        var model = string.IsNullOrWhiteSpace(request.Model) ? catalog.DefaultModel : request.Model.Trim();
        if (model is null)
            Add("model", "No model was given and no default model is configured (Easel:DefaultModel).");
        else if (!catalog.TryGet(model, out _))
            Add("model", catalog.Models.Count == 0
                ? $"Unknown model '{model}': no models are configured."
                : $"Unknown model '{model}'. Known models: {string.Join(", ", catalog.Models.Select(m => m.Name))}.");

        var width = request.Width ?? limits.DefaultWidth;
        var height = request.Height ?? limits.DefaultHeight;
        CheckSize("width", width);
        CheckSize("height", height);
        if (width % 8 == 0 && height % 8 == 0 && (long)width * height > limits.MaxPixels
            && width >= limits.MinSize && width <= limits.MaxSize && height >= limits.MinSize && height <= limits.MaxSize)
        {
            Add("width", $"width × height must be at most {limits.MaxPixels} pixels.");
            Add("height", $"width × height must be at most {limits.MaxPixels} pixels.");
        }

        var steps = request.Steps ?? limits.DefaultSteps;
        if (steps < 1 || steps > limits.MaxSteps)
            Add("steps", $"steps must be between 1 and {limits.MaxSteps}.");

        var guidance = request.GuidanceScale ?? limits.DefaultGuidanceScale;
        if (!double.IsFinite(guidance) || guidance < 0 || guidance > limits.MaxGuidanceScale)
            Add("guidance_scale", $"guidance_scale must be between 0 and {limits.MaxGuidanceScale}.");

        var numImages = request.NumImages ?? 1;
        if (numImages < 1 || numImages > limits.MaxImages)
            Add("num_images", $"num_images must be between 1 and {limits.MaxImages}.");

        if (request.Seed is < 0 or > MaxSeed)
            Add("seed", $"seed must be between 0 and {MaxSeed}.");

        var schedulerName = string.IsNullOrWhiteSpace(request.Scheduler) ? limits.DefaultScheduler : request.Scheduler;
        if (!SchedulerNames.TryNormalize(schedulerName, out var scheduler))
            Add("scheduler", $"Unknown scheduler '{schedulerName}'. Known schedulers: {string.Join(", ", SchedulerNames.All)}.");

        if (errors.Count > 0)
            return new GenerationValidationResult(null, errors.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal));

        var parameters = new GenerationParameters(
            request.Prompt!,
            request.NegativePrompt ?? "",
            model!,
            width,
            height,
            steps,
            guidance,
            request.Seed ?? Random.Shared.NextInt64(0, uint.MaxValue + 1L),
            scheduler,
            numImages);
        return new GenerationValidationResult(parameters, new Dictionary<string, string[]>());

        void CheckSize(string field, int value)
        {
            if (value % 8 != 0)
                Add(field, $"{field} must be a multiple of 8.");
            if (value < limits.MinSize || value > limits.MaxSize)
                Add(field, $"{field} must be between {limits.MinSize} and {limits.MaxSize}.");
        }
    }
}

/// <summary>Either the resolved parameters or, keyed by snake_case field name, what is wrong with the request.</summary>
public sealed record GenerationValidationResult(GenerationParameters? Parameters, IDictionary<string, string[]> Errors)
{
    public bool IsValid => Parameters is not null;
}
