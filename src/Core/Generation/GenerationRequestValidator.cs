using Easel.Core.Images;
using Easel.Core.Jobs;
using Easel.Core.Models;
using Easel.Core.Options;
using Microsoft.Extensions.Options;

namespace Easel.Core.Generation;

/// <summary>
/// Checks a <see cref="GenerationRequest"/> against the configured limits, models and schedulers, and reads its input
/// image and mask (see <see cref="InputImageDecoder"/>). Errors are keyed by the snake_case JSON field name, ready for an
/// RFC 9457 validation problem; <see cref="GenerationValidationResult.Status"/> says which HTTP status fits:
/// 413 when an input is too many bytes, 400 for any other bad field, 422 when a well-formed request asks a model for
/// something it cannot do (text-to-image on an inpainting model, a model that cannot be loaded) or for a model no live
/// worker serves (unless <c>Easel:Jobs:UnservedModel</c> is <c>wait</c>). Omitted fields take the model's recommended
/// values (<see cref="ModelInfo.Defaults"/>: its native size, and steps, guidance and scheduler where it recommends them),
/// then the service-wide <c>Easel:Generation:Default*</c>. Call <see cref="IModelCatalog.RefreshAsync"/> first.
/// </summary>
public sealed class GenerationRequestValidator(
    IOptions<GenerationOptions> options,
    IOptions<WebhookOptions> webhooks,
    IOptions<JobsOptions> jobs,
    IModelCatalog catalog,
    SchedulerCatalog schedulers,
    TimeProvider time)
{
    /// <summary>Largest seed accepted: seeds must survive a round trip through JSON numbers and A1111's parser.</summary>
    public const long MaxSeed = (1L << 53) - 1;

    /// <summary>Largest ControlNet scale (A1111's weight range is 0 … 2).</summary>
    public const double MaxControlNetScale = 2.0;

    /// <summary>The control modes a unit may name (A1111's labels are accepted too, see <see cref="TryParseControlMode"/>).</summary>
    public static readonly IReadOnlyList<string> ControlModes = ["balanced", "prompt_more_important", "control_more_important"];

    /// <summary>Validates a request whose image and mask, if any, are base64 strings in the request itself.</summary>
    public GenerationValidationResult Validate(GenerationRequest request) => Validate(request, null, null);

    /// <summary>
    /// Validates a request; <paramref name="imageBytes"/> / <paramref name="maskBytes"/> are uploaded files (multipart), or
    /// the stored inputs a request refers to, that take the place of <see cref="GenerationRequest.Image"/> /
    /// <see cref="GenerationRequest.Mask"/>.
    /// </summary>
    /// <param name="controlImageBytes">Likewise for <c>controlnets[i].image</c>, by unit index (null entries: read the request's field).</param>
    /// <param name="adapterImageBytes">Likewise for <c>adapters[i].image</c>.</param>
    public GenerationValidationResult Validate(GenerationRequest request, byte[]? imageBytes, byte[]? maskBytes,
        IReadOnlyList<byte[]?>? controlImageBytes = null, IReadOnlyList<byte[]?>? adapterImageBytes = null)
    {
        var limits = options.Value;
        var errors = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var status = 400;
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

        var (prompt, promptTags) = LoraPromptTags.Extract(request.Prompt ?? "");
        var (negativePrompt, negativeTags) = LoraPromptTags.Extract(request.NegativePrompt ?? "");
        var loras = new List<LoraUse>();
        var loraFields = new List<string>();
        for (var i = 0; i < (request.Loras?.Count ?? 0); i++)
        {
            var lora = request.Loras![i];
            if (lora is null || string.IsNullOrWhiteSpace(lora.Artifact))
            {
                Add($"loras[{i}].artifact", "artifact is required: the id or the name of one of your LoRA artifacts.");
                continue;
            }
            var scale = lora.Scale ?? 1.0;
            if (!double.IsFinite(scale) || Math.Abs(scale) > limits.MaxLoraScale)
                Add($"loras[{i}].scale", $"scale must be between −{limits.MaxLoraScale} and {limits.MaxLoraScale}.");
            loras.Add(new LoraUse(lora.Artifact.Trim(), scale));
            loraFields.Add($"loras[{i}].artifact");
        }
        foreach (var (field, tags) in new[] { ("prompt", promptTags), ("negative_prompt", negativeTags) })
        {
            foreach (var tag in tags)
            {
                if (tag.Problem is not null)
                    Add(field, tag.Problem);
                else if (!double.IsFinite(tag.Scale) || Math.Abs(tag.Scale) > limits.MaxLoraScale)
                    Add(field, $"<lora:{tag.Name}:{tag.Scale}>: the scale must be between −{limits.MaxLoraScale} and {limits.MaxLoraScale}.");
                loras.Add(new LoraUse(tag.Name, tag.Scale));
                loraFields.Add(field);
            }
        }
        if (loras.Count > limits.MaxLoras)
            Add("loras", $"At most {limits.MaxLoras} LoRAs per request (the loras field and <lora:…> prompt tags together); this one has {loras.Count}.");
        var embeddings = new List<string>();
        for (var i = 0; i < (request.Embeddings?.Count ?? 0); i++)
        {
            if (string.IsNullOrWhiteSpace(request.Embeddings![i]))
                Add($"embeddings[{i}]", "Each entry is the id or the name of one of your embedding artifacts.");
            else
                embeddings.Add(request.Embeddings[i].Trim());
        }
        if (embeddings.Count > limits.MaxEmbeddings)
            Add("embeddings", $"At most {limits.MaxEmbeddings} embeddings per request; this one has {embeddings.Count}.");

        var modelName = string.IsNullOrWhiteSpace(request.Model) ? catalog.DefaultModel : request.Model.Trim();
        ModelInfo? model = null;
        if (modelName is null)
            Add("model", "No model was given and no default model is configured (Easel:DefaultModel).");
        else if (!catalog.TryGet(modelName, out model))
            Add("model", catalog.Models.Count == 0
                ? $"Unknown model '{modelName}': no models are configured."
                : $"Unknown model '{modelName}'. Known models: {string.Join(", ", catalog.Models.Select(m => m.Name))}.");

        // Input images: bytes first (413), then header (format, pixels), then the decode.
        var image = ReadInput("image", request.Image, imageBytes, grayscale: false);
        var mask = ReadInput("mask", request.Mask, maskBytes, grayscale: true);
        var hasImage = request.Image is not null || imageBytes is not null;
        var hasMask = request.Mask is not null || maskBytes is not null;
        if (hasMask && !hasImage)
            Add("mask", "A mask needs an image: send `image` too (inpainting).");
        var mode = !hasImage ? GenerationMode.TextToImage : hasMask ? GenerationMode.Inpaint : GenerationMode.ImageToImage;

        int width, height;
        if (image is not null)
        {
            (width, height) = (image.Width, image.Height);
            var factor = model?.VaeScaleFactor ?? 8;
            if (width % factor != 0 || height % factor != 0)
                Add("image", $"The image is {width}×{height}; both sides must be multiples of {factor} (the VAE scale factor of model '{modelName}').");
            if (width < limits.MinSize || height < limits.MinSize || width > limits.MaxSize || height > limits.MaxSize)
                Add("image", $"The image is {width}×{height}; each side must be between {limits.MinSize} and {limits.MaxSize}.");
            if (request.Width is { } w && w != width)
                Add("width", $"width must be omitted or equal the image's width ({width}): the output has the image's size.");
            if (request.Height is { } h && h != height)
                Add("height", $"height must be omitted or equal the image's height ({height}): the output has the image's size.");
            if (mask is not null && (mask.Width, mask.Height) != (width, height))
                Add("mask", $"The mask is {mask.Width}×{mask.Height} but the image is {width}×{height}; they must be the same size.");
        }
        else
        {
            width = request.Width ?? model?.EffectiveDefaults.Width ?? limits.DefaultWidth;
            height = request.Height ?? model?.EffectiveDefaults.Height ?? limits.DefaultHeight;
            if (!hasImage)
            {
                CheckSize("width", width);
                CheckSize("height", height);
                if (width % 8 == 0 && height % 8 == 0 && (long)width * height > limits.MaxPixels
                    && width >= limits.MinSize && width <= limits.MaxSize && height >= limits.MinSize && height <= limits.MaxSize)
                {
                    Add("width", $"width × height must be at most {limits.MaxPixels} pixels.");
                    Add("height", $"width × height must be at most {limits.MaxPixels} pixels.");
                }
            }
        }

        var steps = request.Steps ?? model?.Defaults?.Steps ?? limits.DefaultSteps;
        if (steps < 1 || steps > limits.MaxSteps)
            Add("steps", $"steps must be between 1 and {limits.MaxSteps}.");

        double? strength = null;
        if (mode == GenerationMode.TextToImage)
        {
            if (request.Strength is not null)
                Add("strength", "strength applies only to image-to-image and inpainting: send `image` too.");
        }
        else
        {
            strength = request.Strength ?? (mode == GenerationMode.Inpaint ? 1.0 : limits.DefaultImageToImageStrength);
            if (!double.IsFinite(strength.Value) || strength <= 0 || strength > 1)
                Add("strength", "strength must be greater than 0 and at most 1.");
            else if (steps is >= 1 && (int)(steps * strength.Value) < 1)
                Add("strength", $"steps × strength must be at least 1 (steps {steps} × strength {strength} runs no denoising step).");
        }

        var guidance = request.GuidanceScale ?? model?.Defaults?.GuidanceScale ?? limits.DefaultGuidanceScale;
        if (!double.IsFinite(guidance) || guidance < 0 || guidance > limits.MaxGuidanceScale)
            Add("guidance_scale", $"guidance_scale must be between 0 and {limits.MaxGuidanceScale}.");

        var numImages = request.NumImages ?? 1;
        if (numImages < 1 || numImages > limits.MaxImages)
            Add("num_images", $"num_images must be between 1 and {limits.MaxImages}.");

        var seedMode = SeedMode.PerImage;
        if (!string.IsNullOrWhiteSpace(request.SeedMode) && !TryParseSeedMode(request.SeedMode, out seedMode))
            Add("seed_mode", $"Unknown seed_mode '{request.SeedMode}'. Known seed modes: {SeedModeName(SeedMode.PerImage)}, {SeedModeName(SeedMode.Batch)}.");
        if (request.Seed is < 0 or > MaxSeed)
            Add("seed", $"seed must be between 0 and {MaxSeed}.");
        else if (seedMode == SeedMode.PerImage && request.Seed + (numImages - 1) > MaxSeed && numImages <= limits.MaxImages)
            Add("seed", $"seed + num_images − 1 must be at most {MaxSeed}: image i uses seed + i.");

        if (request.Mode is { } requestedMode && requestedMode != ModeName(mode))
            Add("mode", $"mode '{requestedMode}' does not fit the inputs, which make this request {ModeName(mode)} "
                + "(no image: text_to_image; image: image_to_image; image and mask: inpaint). Omit mode or send the matching inputs.");

        var schedulerName = string.IsNullOrWhiteSpace(request.Scheduler) ? model?.Defaults?.Scheduler ?? limits.DefaultScheduler : request.Scheduler;
        if (!schedulers.TryResolve(schedulerName, out var scheduler))
            Add("scheduler", $"Unknown scheduler '{schedulerName}'. Known schedulers: {string.Join(", ", schedulers.Names)}.");

        var (controlnets, controlImages) = ReadControlNets(request.Controlnets, controlImageBytes, ReadInput, Add);
        var (adapters, adapterImages) = ReadAdapters(request.Adapters, adapterImageBytes, ReadInput, Add);
        var grounding = ReadGrounding(request.Grounding, limits.MaxPromptLength, Add);
        var attendAndExcite = AttentionGuidanceReader.ReadAttendAndExcite(request.AttendAndExcite, prompt, steps, Add);
        var structuredGuidance = AttentionGuidanceReader.ReadStructuredGuidance(request.StructuredGuidance, prompt, Add);

        var jobOptions = JobOptionsReader.Read(request.Webhook, request.WebhookEvents, request.CancelAfter, request.Priority,
            time.GetUtcNow(), webhooks.Value.AllowPrivateTargets, Add);

        // Only once the request is well-formed: what the chosen model cannot do, or where it cannot run.
        if (errors.Count == 0 && model is { Problem: { } problem })
        {
            status = 422;
            Add("model", $"Model '{model.Name}' cannot be loaded: {problem}");
        }
        else if (errors.Count == 0 && model is { Kind: not ModelKind.Pipeline })
        {
            status = 422;
            Add("model", $"'{model.Name}' is a {ModelInfo.KindName(model.Kind)}, not a pipeline: name a pipeline as model and add it in controlnets.");
        }
        else if (errors.Count == 0 && grounding is not null && model is not { Layout.Grounded: true })
        {
            status = 422;
            Add("grounding", $"Model '{model?.Name}' has no GLIGEN layers (its UNet's attention_type is not gated): name a GLIGEN model to ground phrases in boxes.");
        }
        else if (errors.Count == 0 && attendAndExcite is not null && model is { Inpainting: true })
        {
            status = 422;
            Add("attend_and_excite", $"Model '{model.Name}' is an inpainting model: its UNet takes the mask and the masked image with the latents, "
                + "which Attend-and-Excite's latent update does not move; use a text-to-image model (image-to-image and masked inpainting work with it).");
        }
        else if (errors.Count == 0 && model is { Inpainting: true } && mode == GenerationMode.TextToImage)
        {
            status = 422;
            Add("image", $"Model '{model.Name}' is an inpainting model (its UNet takes a mask and a masked image): send `image` and `mask`.");
        }
        else if (errors.Count == 0 && model is { IsServed: false } && jobs.Value.UnservedModel == UnservedModelPolicy.Refuse)
        {
            status = 422;
            Add("model", $"No live worker serves model '{model.Name}' now: start a worker with Easel:Models:{model.Name}:Path set, "
                + $"or set Easel:Jobs:UnservedModel to wait to queue such jobs until one does.");
        }

        if (errors.Count == 0 && model is not null)
        {
            foreach (var (unit, i) in controlnets.Select((u, i) => (u, i)))
            {
                if (ControlModelProblem(unit.Model, ModelKind.ControlNet, model) is { } unfit)
                {
                    status = 422;
                    Add($"controlnets[{i}].model", unfit);
                }
            }
            foreach (var (adapter, i) in adapters.Select((a, i) => (a, i)))
            {
                if (ControlModelProblem(adapter.Model, ModelKind.T2IAdapter, model) is { } unfit)
                {
                    status = 422;
                    Add($"adapters[{i}].model", unfit);
                }
            }
        }

        if (errors.Count > 0)
            return new GenerationValidationResult(null, errors.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal), status);

        var parameters = new GenerationParameters(
            prompt,
            negativePrompt,
            model!.Name,
            width,
            height,
            steps,
            guidance,
            request.Seed ?? Random.Shared.NextInt64(0, uint.MaxValue + 1L),
            scheduler!.Name,
            numImages,
            mode,
            strength,
            SeedMode: seedMode,
            Loras: loras.Count > 0 ? loras : null,
            Embeddings: embeddings.Count > 0 ? embeddings : null,
            Controlnets: controlnets.Count > 0 ? controlnets : null,
            Adapters: adapters.Count > 0 ? adapters : null,
            Grounding: grounding,
            AttendAndExcite: attendAndExcite,
            StructuredGuidance: structuredGuidance);
        return new GenerationValidationResult(parameters, new Dictionary<string, string[]>(), 200, image, mask, jobOptions, loraFields, controlImages,
            adapterImages);

        void CheckSize(string field, int value)
        {
            if (value % 8 != 0)
                Add(field, $"{field} must be a multiple of 8.");
            if (value < limits.MinSize || value > limits.MaxSize)
                Add(field, $"{field} must be between {limits.MinSize} and {limits.MaxSize}.");
        }

        DecodedInputImage? ReadInput(string field, InputImageField? input, byte[]? bytes, bool grayscale)
        {
            if (bytes is null)
            {
                if (input is { Stored: { } unresolved })
                {
                    Add(field, $"The stored input '{unresolved.Blob}' is not available: send the image itself.");
                    return null;
                }
                if (input?.Base64 is not { } base64)
                    return null;
                if (!TryDecodeBase64(base64, limits.MaxInputImageBytes, out bytes, out var problem))
                {
                    if (problem!.Status == 413)
                        status = 413;
                    Add(field, problem.Message);
                    return null;
                }
            }
            var (decoded, refused) = InputImageDecoder.Decode(bytes!, grayscale, limits.MaxInputImageBytes, limits.MaxPixels);
            if (refused is not null)
            {
                if (refused.Status == 413)
                    status = 413;
                Add(field, refused.Message);
            }
            if (decoded is not null && input?.Stored is { } stored && (stored.Width, stored.Height) != (decoded.Width, decoded.Height))
                Add(field, $"The stored input '{stored.Blob}' is {decoded.Width}×{decoded.Height}, not {stored.Width}×{stored.Height}.");
            return decoded;
        }
    }

    /// <summary>
    /// The request's ControlNet units with defaults applied and their decoded images; what is malformed is added to the
    /// errors (400/413). Whether each unit's model exists and fits the request's model is <see cref="ControlModelProblem"/>'s.
    /// </summary>
    private (List<ControlNetUse> Units, List<DecodedInputImage> Images) ReadControlNets(IReadOnlyList<ControlNetRequest>? requested,
        IReadOnlyList<byte[]?>? imageBytes, Func<string, InputImageField?, byte[]?, bool, DecodedInputImage?> readInput,
        Action<string, string> add) =>
        ReadUnits("controlnets", "ControlNet units", options.Value.MaxControlNets, requested, imageBytes, readInput, add,
            u => (u.Model, u.Image, u.Scale), (field, unit, model, scale) =>
            {
                var (start, end) = (unit.Start ?? 0.0, unit.End ?? 1.0);
                if (!double.IsFinite(start) || start < 0 || start >= 1)
                    add($"{field}.start", "start must be at least 0 and below 1 (a fraction of the steps).");
                if (!double.IsFinite(end) || end <= 0 || end > 1)
                    add($"{field}.end", "end must be above 0 and at most 1 (a fraction of the steps).");
                else if (double.IsFinite(start) && start >= end)
                    add($"{field}.end", $"end ({end}) must be greater than start ({start}).");
                var controlMode = "balanced";
                if (unit.ControlMode is { } modeName && !TryParseControlMode(modeName, out controlMode))
                    add($"{field}.control_mode", $"Unknown control_mode '{modeName}'. Known control modes: {string.Join(", ", ControlModes)}.");
                return new ControlNetUse(model, null, scale, start, end, unit.GuessMode ?? false, controlMode, unit.Preprocessor?.Trim() ?? "none",
                    unit.ResizeMode?.Trim() ?? "crop", unit.LowThreshold, unit.HighThreshold, unit.BlurSigma, unit.PreprocessorSeed);
            });

    /// <summary>The request's T2I-Adapters with defaults applied and their decoded images, as <see cref="ReadControlNets"/>.</summary>
    private (List<AdapterUse> Units, List<DecodedInputImage> Images) ReadAdapters(IReadOnlyList<AdapterRequest>? requested,
        IReadOnlyList<byte[]?>? imageBytes, Func<string, InputImageField?, byte[]?, bool, DecodedInputImage?> readInput,
        Action<string, string> add) =>
        ReadUnits("adapters", "T2I-Adapters", options.Value.MaxControlNets, requested, imageBytes, readInput, add,
            a => (a.Model, a.Image, a.Scale), (field, adapter, model, scale) =>
            {
                var factor = adapter.Factor ?? 1.0;
                if (!double.IsFinite(factor) || factor <= 0 || factor > 1)
                    add($"{field}.factor", "factor must be above 0 and at most 1 (the fraction of the steps that get the features).");
                return new AdapterUse(model, null, scale, factor, adapter.Preprocessor?.Trim() ?? "none", adapter.ResizeMode?.Trim() ?? "crop",
                    adapter.LowThreshold, adapter.HighThreshold, adapter.BlurSigma, adapter.PreprocessorSeed);
            });

    /// <summary>
    /// What control units of any kind share: at most <paramref name="max"/>, each an object with a model, an image (decoded
    /// here) and a scale in [0, <see cref="MaxControlNetScale"/>]; <paramref name="decide"/> reads the kind's own fields.
    /// </summary>
    private static (List<TUse> Units, List<DecodedInputImage> Images) ReadUnits<TRequest, TUse>(string name, string what, int max,
        IReadOnlyList<TRequest?>? requested, IReadOnlyList<byte[]?>? imageBytes,
        Func<string, InputImageField?, byte[]?, bool, DecodedInputImage?> readInput, Action<string, string> add,
        Func<TRequest, (string? Model, InputImageField? Image, double? Scale)> common, Func<string, TRequest, string, double, TUse> decide)
        where TRequest : class
    {
        var units = new List<TUse>();
        var images = new List<DecodedInputImage>();
        if (requested is not { Count: > 0 })
            return (units, images);
        if (requested.Count > max)
        {
            add(name, $"At most {max} {what} per request; this one has {requested.Count}.");
            return (units, images);
        }
        for (var i = 0; i < requested.Count; i++)
        {
            var field = $"{name}[{i}]";
            if (requested[i] is not { } unit)
            {
                add(field, "Each entry is an object: {\"model\", \"image\", …}.");
                continue;
            }
            var (model, imageField, requestedScale) = common(unit);
            if (string.IsNullOrWhiteSpace(model))
                add($"{field}.model", $"model is required: a configured model of the {name} kind (GET /v1/models).");
            var bytes = imageBytes is not null && i < imageBytes.Count ? imageBytes[i] : null;
            if (imageField is null && bytes is null)
                add($"{field}.image", "image is required: base64 PNG or JPEG, or a stored input reference.");
            else if (readInput($"{field}.image", imageField, bytes, false) is { } image)
                images.Add(image);
            var scale = requestedScale ?? 1.0;
            if (!double.IsFinite(scale) || scale < 0 || scale > MaxControlNetScale)
                add($"{field}.scale", $"scale must be between 0 and {MaxControlNetScale}.");
            units.Add(decide(field, unit, model?.Trim() ?? "", scale));
        }
        return (units, images);
    }

    /// <summary>Why the control model <paramref name="name"/> of <paramref name="kind"/> cannot be added to <paramref name="pipeline"/>, or null when it can.</summary>
    private string? ControlModelProblem(string name, ModelKind kind, ModelInfo pipeline)
    {
        var label = kind == ModelKind.ControlNet ? "ControlNet" : "T2I-Adapter";
        if (!catalog.TryGet(name, out var control))
        {
            var known = catalog.Models.Where(m => m.Kind == kind).Select(m => m.Name).ToList();
            return $"Unknown {label} '{name}'. " + (known.Count == 0 ? $"No {label} is configured." : $"Known: {string.Join(", ", known)}.");
        }
        if (control.Kind != kind)
            return $"'{name}' is a {ModelInfo.KindName(control.Kind)} model, not a {label}.";
        if (control.Problem is { } problem)
            return $"{label} '{name}' cannot be loaded: {problem}";
        if (control.MismatchWith(pipeline) is { } mismatch)
            return mismatch;
        if (pipeline.IsServed && !control.ServingWorkers.Intersect(pipeline.ServingWorkers).Any() && jobs.Value.UnservedModel == UnservedModelPolicy.Refuse)
            return $"No live worker serves both '{pipeline.Name}' and {label} '{name}': configure both on one worker (Easel:Models).";
        return null;
    }

    /// <summary>GLIGEN's position nets take this many entities.</summary>
    public const int MaxGroundedEntities = 30;

    /// <summary>The grounding with β's default, or null when the request has none; what is malformed goes to the errors.</summary>
    private static GroundingUse? ReadGrounding(GroundingRequest? grounding, int maxPhraseLength, Action<string, string> add)
    {
        if (grounding is null)
            return null;
        var phrases = grounding.Phrases ?? [];
        var boxes = grounding.Boxes ?? [];
        if (phrases.Count == 0)
            add("grounding.phrases", "phrases is required: one phrase per box.");
        if (phrases.Count != boxes.Count)
            add("grounding.boxes", $"grounding has {phrases.Count} phrase(s) and {boxes.Count} box(es); give one box per phrase.");
        if (phrases.Count > MaxGroundedEntities)
            add("grounding.phrases", $"At most {MaxGroundedEntities} grounded entities (GLIGEN's position net has {MaxGroundedEntities} slots); this has {phrases.Count}.");
        for (var i = 0; i < phrases.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(phrases[i]))
                add($"grounding.phrases[{i}]", "A phrase says what stands in its box (\"a red circle\").");
            else if (phrases[i].Length > maxPhraseLength)
                add($"grounding.phrases[{i}]", $"A phrase must be at most {maxPhraseLength} characters long.");
        }
        for (var i = 0; i < boxes.Count; i++)
        {
            var box = boxes[i];
            if (box is not { Length: 4 })
                add($"grounding.boxes[{i}]", "A box is [x0, y0, x1, y1], fractions of the image.");
            else if (box.Any(v => !double.IsFinite(v) || v < 0 || v > 1))
                add($"grounding.boxes[{i}]", $"[{string.Join(", ", box)}] is outside [0, 1]: boxes are fractions of the image.");
            else if (box[2] <= box[0] || box[3] <= box[1])
                add($"grounding.boxes[{i}]", $"[{string.Join(", ", box)}] needs x1 > x0 and y1 > y0.");
        }
        var beta = grounding.Beta ?? 0.3;
        if (!double.IsFinite(beta) || beta < 0 || beta > 1)
            add("grounding.beta", "beta must be between 0 and 1 (the fraction of the steps the grounding layers run).");
        return new GroundingUse(phrases.Select(p => p?.Trim() ?? "").ToList(), boxes, beta);
    }

    /// <summary>A control mode by its name or A1111's label ("My prompt is more important", "ControlNet is more important").</summary>
    public static bool TryParseControlMode(string text, out string mode)
    {
        var key = new string(text.Where(char.IsLetter).ToArray()).ToLowerInvariant();
        mode = key switch
        {
            "balanced" => "balanced",
            "promptmoreimportant" or "mypromptismoreimportant" => "prompt_more_important",
            "controlmoreimportant" or "controlnetismoreimportant" => "control_more_important",
            _ => "",
        };
        return mode.Length > 0;
    }

    /// <summary>The JSON name of a seed mode (per_image, batch), as the job's request shows it.</summary>
    public static string SeedModeName(SeedMode mode) => JobJson.Options.PropertyNamingPolicy!.ConvertName(mode.ToString());

    private static bool TryParseSeedMode(string text, out SeedMode mode)
    {
        foreach (var candidate in Enum.GetValues<SeedMode>())
        {
            if (string.Equals(SeedModeName(candidate), text.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                mode = candidate;
                return true;
            }
        }
        mode = default;
        return false;
    }

    /// <summary>The JSON name of a mode (text_to_image, image_to_image, inpaint), as the job's request shows it.</summary>
    private static string ModeName(GenerationMode mode) => JobJson.Options.PropertyNamingPolicy!.ConvertName(mode.ToString());

    /// <summary>Base64 (standard alphabet, optionally a data: URI); the length is checked before anything is allocated.</summary>
    public static bool TryDecodeBase64(string text, long maxBytes, out byte[]? bytes, out InputImageProblem? problem)
    {
        bytes = null;
        problem = null;
        var payload = text.AsSpan().Trim();
        if (payload.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
        {
            var comma = payload.IndexOf(',');
            if (comma < 0 || !payload[..comma].EndsWith(";base64", StringComparison.OrdinalIgnoreCase))
            {
                problem = new InputImageProblem(400, "A data URI must be base64-encoded (data:image/png;base64,...).");
                return false;
            }
            payload = payload[(comma + 1)..];
        }
        if (payload.Length / 4L * 3 > maxBytes + 2)
        {
            problem = new InputImageProblem(413, $"The image is about {payload.Length / 4L * 3} bytes; at most {maxBytes} are accepted.");
            return false;
        }
        var buffer = new byte[payload.Length / 4 * 3 + 3];
        if (!Convert.TryFromBase64Chars(payload, buffer, out var written))
        {
            problem = new InputImageProblem(400, "The value is not valid base64.");
            return false;
        }
        bytes = buffer[..written];
        return true;
    }
}

/// <summary>
/// Either the resolved parameters (with the decoded inputs to store) or, keyed by snake_case field name, what is wrong
/// with the request and the HTTP status that fits (400, 413 or 422). <see cref="LoraFields"/> names, for each entry of
/// the parameters' <c>loras</c>, the request field it came from (<c>loras[i].artifact</c>, <c>prompt</c>, <c>negative_prompt</c>).
/// <see cref="ControlImages"/> and <see cref="AdapterImages"/> are the decoded images of the parameters' <c>controlnets</c> and
/// <c>adapters</c>, in order.
/// </summary>
public sealed record GenerationValidationResult(
    GenerationParameters? Parameters,
    IDictionary<string, string[]> Errors,
    int Status = 400,
    DecodedInputImage? Image = null,
    DecodedInputImage? Mask = null,
    JobOptions? JobOptions = null,
    IReadOnlyList<string>? LoraFields = null,
    IReadOnlyList<DecodedInputImage>? ControlImages = null,
    IReadOnlyList<DecodedInputImage>? AdapterImages = null)
{
    public bool IsValid => Parameters is not null;
}
