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
    /// <param name="imageFiles">The images sent as multipart file parts (instead of <see cref="FineTuneRequest.Images"/>).</param>
    /// <param name="datasetFile">The dataset archive sent as a multipart file part (instead of <see cref="FineTuneRequest.Dataset"/>).</param>
    public FineTuneValidationResult Validate(FineTuneRequest request, IReadOnlyList<byte[]>? imageFiles = null, byte[]? datasetFile = null)
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

        var (sources, datasetCaptions) = TrainingSources(request, imageFiles, datasetFile, limits, sizes.MaxInputImageBytes, Add, ref status);
        var images = new List<DecodedInputImage>();
        foreach (var (field, bytes) in sources)
        {
            var (decoded, refused) = InputImageDecoder.Decode(bytes, grayscale: false, sizes.MaxInputImageBytes, sizes.MaxPixels);
            if (refused is not null)
            {
                status = refused.Status == 413 ? 413 : status;
                Add(field, refused.Message);
            }
            else
                images.Add(decoded!);
        }
        var (width, height) = images.Count > 0 ? (images[0].Width, images[0].Height) : (0, 0);
        var mixed = images.FindIndex(image => (image.Width, image.Height) != (width, height));
        if (mixed >= 0)
            Add(sources[mixed].Field, $"{sources[mixed].Field} is {images[mixed].Width}×{images[mixed].Height} but {sources[0].Field} is {width}×{height}; all images must have one size.");
        if (request.Resolution is { } resolution && images.Count > 0 && (resolution != width || resolution != height))
            Add("resolution", $"resolution must be omitted or equal the images' size ({width}×{height}): images are not resized.");

        var captions = request.Captions?.Select(c => c?.Trim() ?? "").ToList();
        if (captions is not null && sources.Count > 0 && captions.Count != sources.Count)
            Add("captions", $"captions has {captions.Count} entries for {sources.Count} images; give one per image or none.");
        if (captions is not null && datasetCaptions is not null)
            Add("captions", "captions cannot be given with dataset: the dataset's captions are the .txt files beside its images.");
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
        if (datasetCaptions is not null)
        {
            var uncaptioned = datasetCaptions.FindIndex(c => c is null);
            if (uncaptioned >= 0 && string.IsNullOrEmpty(instancePrompt))
                Add("instance_prompt", $"dataset image {sources[uncaptioned].Field} has no caption file beside it; add one or give instance_prompt for such images.");
            else
                captions = datasetCaptions.Select(c => c ?? instancePrompt!).ToList();
            if (method == FineTuneMethods.TextualInversion && !string.IsNullOrEmpty(token))
                for (var i = 0; i < captions?.Count; i++)
                    if (!captions[i].Contains(token, StringComparison.Ordinal))
                        Add(sources[i].Field, $"The caption of {sources[i].Field} must contain the token '{token}'.");
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

    /// <summary>
    /// The training images' bytes, each with the field a refusal names (<c>images[i]</c>, or the archive entry), from exactly one
    /// of: base64 <c>images</c>, multipart image files, a <c>dataset</c> archive; and the archive's captions (null without one).
    /// </summary>
    private static (List<(string Field, byte[] Bytes)> Sources, List<string?>? DatasetCaptions) TrainingSources(
        FineTuneRequest request, IReadOnlyList<byte[]>? imageFiles, byte[]? datasetFile, FineTuneOptions limits, long maxImageBytes,
        Action<string, string> add, ref int status)
    {
        var sources = new List<(string Field, byte[] Bytes)>();
        var givenImages = imageFiles is { Count: > 0 } || request.Images is { Count: > 0 };
        if (imageFiles is { Count: > 0 } && request.Images is { Count: > 0 })
        {
            add("images", "images is given both as file parts and as base64 text; send one of them.");
            return (sources, null);
        }
        if (datasetFile is not null || request.Dataset is not null)
        {
            if (givenImages)
            {
                add("dataset", "Give images or dataset, not both.");
                return (sources, null);
            }
            var archive = datasetFile;
            if (archive is null && !GenerationRequestValidator.TryDecodeBase64(request.Dataset!, limits.MaxDatasetBytes, out archive, out var problem))
            {
                status = problem!.Status == 413 ? 413 : status;
                add("dataset", problem.Status == 413
                    ? $"The dataset is more than {limits.MaxDatasetBytes} bytes (Easel:FineTunes:MaxDatasetBytes)."
                    : problem.Message);
                return (sources, null);
            }
            if (archive!.LongLength > limits.MaxDatasetBytes)
            {
                status = 413;
                add("dataset", $"The dataset is {archive.LongLength} bytes; at most {limits.MaxDatasetBytes} are accepted (Easel:FineTunes:MaxDatasetBytes).");
                return (sources, null);
            }
            var (items, readStatus, refusal) = TrainingDataset.Read(archive, limits.MaxImages, maxImageBytes);
            if (items is null)
            {
                status = readStatus == 413 ? 413 : status;
                add("dataset", refusal!);
                return (sources, null);
            }
            sources.AddRange(items.Select(item => ($"dataset/{item.Entry}", item.Bytes)));
            return (sources, items.Select(item => item.Caption).ToList());
        }

        var count = imageFiles?.Count ?? request.Images?.Count ?? 0;
        if (count == 0)
            add("images", "At least one training image is required (images, or a dataset archive).");
        else if (count > limits.MaxImages)
            add("images", $"At most {limits.MaxImages} images per fine-tune (Easel:FineTunes:MaxImages); this one has {count}.");
        else if (imageFiles is { Count: > 0 })
            sources.AddRange(imageFiles.Select((bytes, i) => ($"images[{i}]", bytes)));
        else
        {
            for (var i = 0; i < count; i++)
            {
                if (GenerationRequestValidator.TryDecodeBase64(request.Images![i] ?? "", maxImageBytes, out var bytes, out var problem))
                    sources.Add(($"images[{i}]", bytes!));
                else
                {
                    status = problem!.Status == 413 ? 413 : status;
                    add($"images[{i}]", problem.Message);
                }
            }
        }
        return (sources, null);
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
