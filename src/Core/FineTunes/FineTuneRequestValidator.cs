using System.Security.Cryptography;
using System.Text;
using Easel.Core.Artifacts;
using Easel.Core.Generation;
using Easel.Core.Images;
using Easel.Core.Jobs;
using Easel.Core.Models;
using Easel.Core.Options;
using Microsoft.Extensions.Options;

namespace Easel.Core.FineTunes;

/// <summary>
/// Checks a <see cref="FineTuneRequest"/> against the configured limits and models and decodes its images. Errors are
/// keyed by the snake_case field name; the status is 413 for an image of too many bytes, 422 for a well-formed request the
/// base model cannot train on (a size it cannot take, a model that cannot be loaded or that no worker serves), else 400.
/// Call <see cref="IModelCatalog.RefreshAsync"/> first.
/// </summary>
public sealed class FineTuneRequestValidator(
    IOptions<FineTuneOptions> options,
    IOptions<GenerationOptions> generation,
    IOptions<WebhookOptions> webhooks,
    IOptions<JobsOptions> jobs,
    IModelCatalog catalog,
    TimeProvider time)
{
    public FineTuneValidationResult Validate(FineTuneRequest request)
    {
        var limits = options.Value;
        var sizes = generation.Value;
        var errors = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var status = 400;
        void Add(string field, string message)
        {
            if (!errors.TryGetValue(field, out var list))
                errors[field] = list = [];
            list.Add(message);
        }

        var method = request.Method?.Trim();
        if (string.IsNullOrEmpty(method))
            Add("method", $"method is required: {string.Join(" or ", FineTuneMethods.Known)}.");
        else if (!FineTuneMethods.Known.Contains(method))
            Add("method", $"Unknown method '{method}'. Known methods: {string.Join(", ", FineTuneMethods.Known)}.");

        var modelName = string.IsNullOrWhiteSpace(request.BaseModel) ? catalog.DefaultModel : request.BaseModel.Trim();
        ModelInfo? model = null;
        if (modelName is null)
            Add("base_model", "No base_model was given and no default model is configured (Easel:DefaultModel).");
        else if (!catalog.TryGet(modelName, out model))
            Add("base_model", $"Unknown model '{modelName}'. Known models: {string.Join(", ", catalog.Models.Select(m => m.Name))}.");

        var images = new List<DecodedInputImage>();
        if (request.Images is not { Count: > 0 })
            Add("images", "At least one training image is required.");
        else if (request.Images.Count > limits.MaxImages)
            Add("images", $"At most {limits.MaxImages} images per fine-tune (Easel:FineTunes:MaxImages); this one has {request.Images.Count}.");
        else
        {
            for (var i = 0; i < request.Images.Count; i++)
            {
                if (!GenerationRequestValidator.TryDecodeBase64(request.Images[i] ?? "", sizes.MaxInputImageBytes, out var bytes, out var problem))
                {
                    status = problem!.Status == 413 ? 413 : status;
                    Add($"images[{i}]", problem.Message);
                    continue;
                }
                var (decoded, refused) = InputImageDecoder.Decode(bytes!, grayscale: false, sizes.MaxInputImageBytes, sizes.MaxPixels);
                if (refused is not null)
                {
                    status = refused.Status == 413 ? 413 : status;
                    Add($"images[{i}]", refused.Message);
                }
                else
                    images.Add(decoded!);
            }
        }
        var (width, height) = images.Count > 0 ? (images[0].Width, images[0].Height) : (0, 0);
        var mixed = images.FindIndex(image => (image.Width, image.Height) != (width, height));
        if (mixed >= 0)
            Add($"images[{mixed}]", $"images[{mixed}] is {images[mixed].Width}×{images[mixed].Height} but images[0] is {width}×{height}; all images must have one size.");
        if (request.Resolution is { } resolution && images.Count > 0 && (resolution != width || resolution != height))
            Add("resolution", $"resolution must be omitted or equal the images' size ({width}×{height}): images are not resized.");

        var captions = request.Captions?.Select(c => c?.Trim() ?? "").ToList();
        if (captions is not null && request.Images is { Count: > 0 } && captions.Count != request.Images.Count)
            Add("captions", $"captions has {captions.Count} entries for {request.Images.Count} images; give one per image or none.");
        var token = request.Token?.Trim();
        var instancePrompt = request.InstancePrompt?.Trim();
        if (method == FineTuneMethods.TextualInversion)
        {
            if (string.IsNullOrEmpty(token))
                Add("token", "token is required for textual_inversion: the new word prompts will use, e.g. \"<ring>\".");
            else if (token.Any(char.IsWhiteSpace))
                Add("token", "token must be one word (no spaces).");
            else
            {
                instancePrompt ??= $"a {token}";
                if (captions is null && !instancePrompt.Contains(token, StringComparison.Ordinal))
                    Add("instance_prompt", $"instance_prompt must contain the token '{token}'.");
                for (var i = 0; i < (captions?.Count ?? 0); i++)
                {
                    if (!captions![i].Contains(token, StringComparison.Ordinal))
                        Add($"captions[{i}]", $"Every caption must contain the token '{token}'.");
                }
            }
            if (request.Rank is not null)
                Add("rank", "rank applies to lora only.");
            if (request.Alpha is not null)
                Add("alpha", "alpha applies to lora only.");
            if (request.TargetModules is not null)
                Add("target_modules", "target_modules applies to lora only.");
        }
        else if (method == FineTuneMethods.Lora)
        {
            if (captions is null && string.IsNullOrEmpty(instancePrompt))
                Add("instance_prompt", "Give instance_prompt (the caption of every image, e.g. \"a green sks ring\") or captions.");
            if (request.Rank is { } rank && (rank < 1 || rank > limits.MaxRank))
                Add("rank", $"rank must be between 1 and {limits.MaxRank} (Easel:FineTunes:MaxRank).");
            if (request.Alpha is { } alpha && (!double.IsFinite(alpha) || alpha <= 0))
                Add("alpha", "alpha must be a positive number.");
            if (token is not null)
                Add("token", "token applies to textual_inversion only.");
            if (request.TargetModules is { } modules && (modules.Count == 0 || modules.Any(string.IsNullOrWhiteSpace)))
                Add("target_modules", "target_modules must list at least one layer name, none of them empty.");
        }
        var steps = request.Steps ?? limits.DefaultSteps;
        if (steps < 1 || steps > limits.MaxSteps)
            Add("steps", $"steps must be between 1 and {limits.MaxSteps} (Easel:FineTunes:MaxSteps).");
        var learningRate = request.LearningRate ?? (method is null ? 0 : FineTuneMethods.DefaultLearningRate(method));
        if (!double.IsFinite(learningRate) || learningRate <= 0 || learningRate > 1)
            Add("learning_rate", "learning_rate must be greater than 0 and at most 1.");
        var batchSize = request.BatchSize ?? 1;
        if (batchSize < 1 || batchSize > limits.MaxBatchSize)
            Add("batch_size", $"batch_size must be between 1 and {limits.MaxBatchSize}.");
        if (request.Seed is < 0 or > int.MaxValue)
            Add("seed", $"seed must be between 0 and {int.MaxValue}.");
        var validationPrompts = request.ValidationPrompts?.Select(p => p?.Trim() ?? "").ToList() ?? [];
        if (validationPrompts.Count > limits.MaxValidationPrompts)
            Add("validation_prompts", $"At most {limits.MaxValidationPrompts} validation prompts.");
        var empty = validationPrompts.FindIndex(string.IsNullOrEmpty);
        if (empty >= 0)
            Add($"validation_prompts[{empty}]", "A validation prompt must not be empty.");
        var validateEvery = request.ValidateEvery ?? steps;
        if (validateEvery < 1)
            Add("validate_every", "validate_every must be at least 1.");
        if (request.Name is { } name && !ArtifactNames.IsValid(name))
            Add("name", $"name must be {ArtifactNames.Rule}.");
        var jobOptions = JobOptionsReader.Read(request.Webhook, request.WebhookEvents, request.CancelAfter, request.Priority,
            time.GetUtcNow(), webhooks.Value.AllowPrivateTargets, Add);

        // Only once the request is well-formed: what the base model cannot take, or where it cannot run.
        if (errors.Count == 0 && model is not null)
        {
            var factor = model.VaeScaleFactor;
            if (width % factor != 0 || height % factor != 0 || width < sizes.MinSize || height < sizes.MinSize || width > sizes.MaxSize || height > sizes.MaxSize)
                Add("images", $"The images are {width}×{height}; model '{model.Name}' trains on sides that are multiples of {factor} between {sizes.MinSize} and {sizes.MaxSize}.");
            else if (model.Problem is { } problem)
                Add("base_model", $"Model '{model.Name}' cannot be loaded: {problem}");
            else if (model.Inpainting)
                Add("base_model", $"Model '{model.Name}' is an inpainting model; fine-tunes train text-to-image models.");
            else if (!model.IsServed && jobs.Value.UnservedModel == UnservedModelPolicy.Refuse)
                Add("base_model", $"No live worker serves model '{model.Name}' now.");
            if (errors.Count > 0)
                status = 422;
        }
        if (errors.Count > 0)
            return new FineTuneValidationResult(null, errors.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal), status, []);

        var parameters = new FineTuneParameters(
            method!,
            model!.Name,
            [],
            captions ?? Enumerable.Repeat(instancePrompt!, images.Count).ToList(),
            method == FineTuneMethods.TextualInversion ? token : null,
            method == FineTuneMethods.TextualInversion ? request.InitializerToken?.Trim() : null,
            steps,
            learningRate,
            batchSize,
            width,
            method == FineTuneMethods.Lora ? request.Rank ?? 4 : null,
            method == FineTuneMethods.Lora ? request.Alpha ?? request.Rank ?? 4 : null,
            method == FineTuneMethods.Lora ? request.TargetModules?.Select(m => m.Trim()).ToList() : null,
            (int)(request.Seed ?? Random.Shared.Next()),
            validationPrompts,
            validateEvery,
            request.Name);
        return new FineTuneValidationResult(parameters, new Dictionary<string, string[]>(), 200, images, jobOptions);
    }

    /// <summary>The SHA-256 of the images' blob keys and the captions, in order (an artifact's dataset lineage).</summary>
    public static string DatasetHash(IReadOnlyList<StoredInputImage> images, IReadOnlyList<string> captions)
    {
        var text = new StringBuilder();
        for (var i = 0; i < images.Count; i++)
            text.Append(images[i].Blob).Append('\n').Append(captions[i]).Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }
}

/// <summary>Either the parameters (images still to be stored) or the errors by field with the HTTP status that fits.</summary>
public sealed record FineTuneValidationResult(
    FineTuneParameters? Parameters,
    IDictionary<string, string[]> Errors,
    int Status,
    IReadOnlyList<DecodedInputImage> Images,
    JobOptions? JobOptions = null)
{
    public bool IsValid => Parameters is not null;
}
