using System.Text.Json;
using Easel.Core.FineTunes;
using Easel.Core.Generation;
using Easel.Core.Images;
using Easel.Core.Jobs;
using Easel.Core.Models;
using Easel.Core.Options;
using Microsoft.Extensions.Options;

namespace Easel.Core.Editing;

/// <summary>
/// Checks an <see cref="EditRequest"/>: its method's own fields here, the sampling fields and the images as the generation
/// the edit is built on (<see cref="GenerationRequestValidator"/>, the same limits and messages) — an inpainting for
/// blended, the edited prompt's text-to-image (or, for a real source, its image) for prompt_to_prompt. Errors are keyed
/// by the snake_case field name; the status is 413 for an input of too many bytes, 422 for a model that cannot run the
/// method, 400 otherwise.
/// </summary>
public sealed class EditRequestValidator(GenerationRequestValidator generations, IModelCatalog catalog, IOptions<FineTuneOptions> fineTunes,
    IOptions<GenerationOptions> limits)
{
    /// <summary>Largest |factor| of a re-weighted word.</summary>
    public const double MaxReweight = 10;

    /// <param name="imageBytes">The uploaded or stored image (blended's input, prompt_to_prompt's real source).</param>
    public EditValidationResult Validate(EditRequest request, byte[]? imageBytes, byte[]? maskBytes)
    {
        var errors = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        void Add(string field, string message)
        {
            if (!errors.TryGetValue(field, out var list))
                errors[field] = list = [];
            list.Add(message);
        }

        var method = request.Method?.Trim().ToLowerInvariant();
        if (string.IsNullOrEmpty(method))
            Add("method", $"method is required: {string.Join(" or ", EditMethods.Offered)}.");
        else if (!EditMethods.Offered.Contains(method))
            Add("method", $"Unknown method '{request.Method}'. Known methods: {string.Join(", ", EditMethods.Offered)}.");

        ImagicUse? imagic = null;
        var (generationRequest, promptToPrompt, background, decoderSteps) = method switch
        {
            EditMethods.PromptToPrompt => PromptToPromptFields(request, imageBytes, Add),
            EditMethods.Imagic => ImagicFields(request, imageBytes, Add, out imagic),
            _ => BlendedFields(request, imageBytes, maskBytes, Add),
        };
        var generation = generations.Validate(generationRequest, imageBytes, method == EditMethods.Blended ? maskBytes : null);
        foreach (var (field, messages) in generation.Errors)
            foreach (var message in messages)
                Add(generationRequest.Image is not null && field == "image" && request.Source?.Image is not null ? "source.image" : field, message);
        if (method == EditMethods.PromptToPrompt && generation.IsValid && generationRequest.Image is not null && generation.Parameters!.Scheduler != "ddim")
            Add("scheduler", $"A real-image source is inverted with DDIM, so its edit samples with ddim; got {generation.Parameters.Scheduler}.");
        var status = generation.Status == 413 || !generation.IsValid && errors.Keys.All(generation.Errors.ContainsKey) ? generation.Status : 400;

        ModelInfo? model = null;
        if (errors.Count == 0 && catalog.TryGet(generation.Parameters!.Model, out model) && model.Inpainting)
        {
            status = 422;
            Add("model", $"Model '{model.Name}' has an inpainting UNet; edits run on a model with a 4-channel UNet (any ordinary one).");
        }
        else if (errors.Count == 0 && model is { Family: ModelFamily.Sdxl } && (imagic is not null || generationRequest.Image is not null && method == EditMethods.PromptToPrompt))
        {
            // Inversion and Imagic's training call the UNet with text states alone; SDXL's also takes the pooled text and size ids.
            status = 422;
            Add("model", $"Model '{model.Name}' is SDXL; {(imagic is not null ? "Imagic" : "real-image inversion")} runs on SD 1.x/2.x models here (a generated Prompt-to-Prompt source and blended run on SDXL).");
        }
        if (errors.Count > 0)
            return new EditValidationResult(null, errors.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal), status);
        var parameters = EditParameters.From(method!, generation.Parameters!, background, decoderSteps, promptToPrompt) with { Imagic = imagic };
        if (imagic is not null)
            parameters = parameters with { NumImages = 1, Strength = null, SeedMode = SeedMode.Batch };
        return new EditValidationResult(parameters, new Dictionary<string, string[]>(), 200, generation.Image, generation.Mask,
            generation.JobOptions, generation.LoraFields);
    }

    private (GenerationRequest, PromptToPromptUse?, string?, int?) BlendedFields(EditRequest request, byte[]? imageBytes, byte[]? maskBytes,
        Action<string, string> add)
    {
        if (request.Image is null && imageBytes is null)
            add("image", "image is required: the image to edit.");
        if (request.Mask is null && maskBytes is null)
            add("mask", "mask is required: white where the image is edited, black where it is kept.");
        ImagicOnly(request, add);
        NotFor(request.Source, "source", EditMethods.PromptToPrompt, add);
        NotFor(request.CrossReplaceSteps, "cross_replace_steps", EditMethods.PromptToPrompt, add);
        NotFor(request.SelfReplaceSteps, "self_replace_steps", EditMethods.PromptToPrompt, add);
        NotFor(request.Reweight, "reweight", EditMethods.PromptToPrompt, add);
        NotFor(request.LocalBlend, "local_blend", EditMethods.PromptToPrompt, add);
        NotFor(request.Inversion, "inversion", EditMethods.PromptToPrompt, add);
        NotFor(request.NullTextLearningRate, "null_text_learning_rate", EditMethods.PromptToPrompt, add);
        NotFor(request.Width, "width", EditMethods.PromptToPrompt, add);
        NotFor(request.Height, "height", EditMethods.PromptToPrompt, add);
        var background = string.IsNullOrWhiteSpace(request.Background) ? EditMethods.Backgrounds[0] : request.Background.Trim().ToLowerInvariant();
        if (!EditMethods.Backgrounds.Contains(background))
            add("background", $"Unknown background '{request.Background}'. Known backgrounds: {string.Join(", ", EditMethods.Backgrounds)}.");
        var maxDecoderSteps = fineTunes.Value.MaxSteps;
        if (request.DecoderSteps is { } decoderSteps)
        {
            if (background != "decoder_optimization")
                add("decoder_steps", "decoder_steps applies only to background decoder_optimization.");
            else if (decoderSteps < 1 || decoderSteps > maxDecoderSteps)
                add("decoder_steps", $"decoder_steps must be between 1 and {maxDecoderSteps} (Easel:FineTunes:MaxSteps).");
        }
        var generation = new GenerationRequest(request.Prompt, request.NegativePrompt, request.Model, null, null,
            request.Steps, request.GuidanceScale, request.Seed, request.Scheduler, request.NumImages, request.Image, request.Mask,
            request.Strength, request.Webhook, request.WebhookEvents, request.CancelAfter, request.Priority, request.SeedMode,
            Loras: request.Loras, Embeddings: request.Embeddings);
        return (generation, null, background, background == "decoder_optimization" ? request.DecoderSteps ?? EditMethods.DefaultDecoderSteps : null);
    }

    private (GenerationRequest, PromptToPromptUse?, string?, int?) PromptToPromptFields(EditRequest request, byte[]? imageBytes, Action<string, string> add)
    {
        ImagicOnly(request, add);
        NotFor(request.Mask, "mask", EditMethods.Blended, add);
        NotFor(request.Background, "background", EditMethods.Blended, add);
        NotFor(request.DecoderSteps, "decoder_steps", EditMethods.Blended, add);
        NotFor(request.Strength, "strength", EditMethods.Blended, add);
        NotFor(request.SeedMode, "seed_mode", EditMethods.Blended, add);
        if (request.NumImages is { } n && n != 1)
            add("num_images", "A Prompt-to-Prompt edit makes one source and one edit (its images are [source, edit]); omit num_images or send 1.");
        var source = request.Source;
        var sourcePrompt = source?.Prompt?.Trim() ?? "";
        if (source is null)
            add("source", "source is required: {\"prompt\", \"seed\"} for a generated source or {\"prompt\", \"image\"} for a real image.");
        else if (sourcePrompt.Length == 0)
            add("source.prompt", "source.prompt is required: the source's prompt (for a real image, what it shows).");
        else if (sourcePrompt.Length > limits.Value.MaxPromptLength)
            add("source.prompt", $"The source prompt must be at most {limits.Value.MaxPromptLength} characters long.");
        if (request.Image is not null && source?.Image is not null)
            add("image", "Give the real source once: as source.image in JSON, or as the image file part in multipart.");
        if (request.Seed is not null && source?.Seed is not null)
            add("seed", "Give the source's seed once, as source.seed.");
        var image = source?.Image ?? request.Image;
        var real = image is not null || imageBytes is not null;
        if (real && source?.Seed is not null)
            add("source.seed", "A real-image source is inverted, not drawn: omit source.seed.");
        if (!real)
        {
            NotFor(request.Inversion, "inversion", "a real-image source", add);
            NotFor(request.NullTextLearningRate, "null_text_learning_rate", "a real-image source", add);
        }
        var inversion = real ? string.IsNullOrWhiteSpace(request.Inversion) ? EditMethods.Inversions[0] : request.Inversion.Trim().ToLowerInvariant() : null;
        if (inversion is not null && !EditMethods.Inversions.Contains(inversion))
            add("inversion", $"Unknown inversion '{request.Inversion}'. Known inversions: {string.Join(", ", EditMethods.Inversions)}.");
        if (request.NullTextLearningRate is { } rate && (inversion != "null_text" || !double.IsFinite(rate) || rate <= 0 || rate > 1))
            add("null_text_learning_rate", inversion != "null_text" ? "null_text_learning_rate applies only to inversion null_text."
                : "null_text_learning_rate must be greater than 0 and at most 1.");

        var edited = request.Prompt ?? "";
        var (cross, perWord) = CrossReplaceSteps(request.CrossReplaceSteps, edited, add);
        var self = request.SelfReplaceSteps ?? 0.4;
        if (!double.IsFinite(self) || self < 0 || self > 1)
            add("self_replace_steps", "self_replace_steps must be between 0 and 1 (a fraction of the steps).");
        foreach (var (word, factor) in request.Reweight ?? new Dictionary<string, double>())
        {
            if (!EditMethods.IsWordOf(edited, word))
                add($"reweight.{word}", $"'{word}' is not a word of the edited prompt.");
            else if (!double.IsFinite(factor) || Math.Abs(factor) > MaxReweight)
                add($"reweight.{word}", $"A factor must be between −{MaxReweight} and {MaxReweight}.");
        }
        foreach (var (word, i) in (request.LocalBlend ?? []).Select((w, i) => (w, i)))
            if (string.IsNullOrWhiteSpace(word) || !EditMethods.IsWordOf(edited, word) && !EditMethods.IsWordOf(sourcePrompt, word))
                add($"local_blend[{i}]", $"'{word}' is a word of neither the source prompt nor the edited prompt.");

        var generation = new GenerationRequest(request.Prompt, request.NegativePrompt, request.Model, real ? null : request.Width,
            real ? null : request.Height, request.Steps, request.GuidanceScale, source?.Seed ?? request.Seed, request.Scheduler ?? (real ? "ddim" : null), null, image, null,
            null, request.Webhook, request.WebhookEvents, request.CancelAfter, request.Priority, null, Loras: request.Loras, Embeddings: request.Embeddings);
        if (real && request.Width is not null)
            add("width", "A real-image source sets the size: omit width.");
        if (real && request.Height is not null)
            add("height", "A real-image source sets the size: omit height.");
        var use = new PromptToPromptUse(sourcePrompt, cross, perWord, self, request.Reweight is { Count: > 0 } r ? r : null,
            request.LocalBlend is { Count: > 0 } l ? l : null, inversion, inversion == "null_text" ? request.NullTextLearningRate ?? 1e-2 : null);
        return (generation, use, null, null);
    }

    private (GenerationRequest, PromptToPromptUse?, string?, int?) ImagicFields(EditRequest request, byte[]? imageBytes, Action<string, string> add,
        out ImagicUse? use)
    {
        if (request.Image is null && imageBytes is null)
            add("image", "image is required: the image to edit.");
        foreach (var (value, field) in new (object?, string)[]
                 {
                     (request.Mask, "mask"), (request.Background, "background"), (request.DecoderSteps, "decoder_steps"), (request.Strength, "strength"),
                     (request.Source, "source"), (request.CrossReplaceSteps, "cross_replace_steps"), (request.SelfReplaceSteps, "self_replace_steps"),
                     (request.Reweight, "reweight"), (request.LocalBlend, "local_blend"), (request.Inversion, "inversion"),
                     (request.NullTextLearningRate, "null_text_learning_rate"), (request.Width, "width"), (request.Height, "height"),
                     (request.SeedMode, "seed_mode"),
                 })
            if (value is not null)
                add(field, $"{field} does not apply to imagic.");
        if (request.NumImages is not null)
            add("num_images", "An Imagic edit renders one image per η: send a list of etas instead of num_images.");
        var etas = Etas(request.Eta, add);
        var maxSteps = fineTunes.Value.MaxSteps;
        int Steps(int? value, int fallback, string field)
        {
            if (value is < 1 || value > maxSteps)
                add(field, $"{field} must be between 1 and {maxSteps} (Easel:FineTunes:MaxSteps).");
            return value ?? fallback;
        }
        double Rate(double? value, double fallback, string field)
        {
            if (value is { } v && (!double.IsFinite(v) || v <= 0 || v > 1))
                add(field, $"{field} must be greater than 0 and at most 1.");
            return value ?? fallback;
        }
        use = new ImagicUse(etas, Steps(request.EmbeddingSteps, 200, "embedding_steps"), Steps(request.FinetuneSteps, 300, "finetune_steps"),
            Rate(request.EmbeddingLearningRate, 1e-2, "embedding_learning_rate"), Rate(request.FinetuneLearningRate, 1e-4, "finetune_learning_rate"));
        var generation = new GenerationRequest(request.Prompt, request.NegativePrompt, request.Model, null, null, request.Steps, request.GuidanceScale,
            request.Seed, request.Scheduler, null, request.Image, null, null, request.Webhook, request.WebhookEvents, request.CancelAfter, request.Priority,
            null, Loras: request.Loras, Embeddings: request.Embeddings);
        return (generation, null, null, null);
    }

    /// <summary>
    /// Checks a render of an Imagic session: its η values, and its sampling fields as the target prompt's text-to-image at
    /// the session image's size on the session's model.
    /// </summary>
    public EditValidationResult ValidateRender(ImagicRenderRequest request, ImagicSessionInfo session)
    {
        var errors = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        void Add(string field, string message)
        {
            if (!errors.TryGetValue(field, out var list))
                errors[field] = list = [];
            list.Add(message);
        }
        var etas = Etas(request.Eta, Add);
        var generation = generations.Validate(new GenerationRequest(session.TargetPrompt, request.NegativePrompt, session.Model, session.Image.Width,
            session.Image.Height, request.Steps, request.GuidanceScale, request.Seed, request.Scheduler, null, Webhook: request.Webhook,
            WebhookEvents: request.WebhookEvents, CancelAfter: request.CancelAfter, Priority: request.Priority));
        foreach (var (field, messages) in generation.Errors)
            foreach (var message in messages)
                Add(field, message);
        if (errors.Count > 0)
            return new EditValidationResult(null, errors.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal),
                generation.IsValid ? 400 : generation.Status);
        var parameters = EditParameters.From(EditMethods.Imagic, generation.Parameters! with { Image = session.Image }, null, null) with
        {
            NumImages = 1,
            Strength = null,
            SeedMode = SeedMode.Batch,
            Imagic = session.Training with { Etas = etas, Session = session.Id },
        };
        return new EditValidationResult(parameters, new Dictionary<string, string[]>(), 200, JobOptions: generation.JobOptions);
    }

    /// <summary>η as a number or a list of numbers (default 0.7), each in [0, 1.5], at most 8.</summary>
    private static List<double> Etas(JsonElement? value, Action<string, string> add)
    {
        var etas = new List<double>();
        if (value is not { } eta || eta.ValueKind == JsonValueKind.Null)
            etas.Add(EditMethods.DefaultEta);
        else if (eta.ValueKind == JsonValueKind.Number)
            etas.Add(eta.GetDouble());
        else if (eta.ValueKind == JsonValueKind.Array && eta.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number))
            etas.AddRange(eta.EnumerateArray().Select(e => e.GetDouble()));
        else
            add("eta", "eta is a number or a list of numbers.");
        if (etas.Count is 0 or > EditMethods.MaxEtas)
            add("eta", $"Send 1 to {EditMethods.MaxEtas} values of eta.");
        if (etas.Any(e => !double.IsFinite(e) || e < 0 || e > EditMethods.MaxEta))
            add("eta", $"Each eta must be between 0 and {EditMethods.MaxEta}.");
        return etas;
    }

    /// <summary>A fraction, or <c>{"default": f, "word": f, …}</c> with words of the edited prompt.</summary>
    private static (double Default, IReadOnlyDictionary<string, double>? PerWord) CrossReplaceSteps(JsonElement? value, string edited, Action<string, string> add)
    {
        static bool IsFraction(JsonElement e, out double f)
        {
            f = 0;
            return e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out f) && f >= 0 && f <= 1;
        }
        const string Field = "cross_replace_steps";
        if (value is not { } element || element.ValueKind == JsonValueKind.Null)
            return (0.8, null);
        if (element.ValueKind == JsonValueKind.Number)
        {
            if (!IsFraction(element, out var fraction))
                add(Field, "cross_replace_steps must be between 0 and 1 (a fraction of the steps).");
            return (fraction, null);
        }
        if (element.ValueKind != JsonValueKind.Object)
        {
            add(Field, "cross_replace_steps is a fraction, or an object of fractions per word with \"default\" for the others.");
            return (0.8, null);
        }
        var (general, words) = (0.8, new Dictionary<string, double>(StringComparer.Ordinal));
        foreach (var member in element.EnumerateObject())
        {
            if (!IsFraction(member.Value, out var fraction))
                add($"{Field}.{member.Name}", "Each fraction must be between 0 and 1.");
            else if (member.Name == "default")
                general = fraction;
            else if (!EditMethods.IsWordOf(edited, member.Name))
                add($"{Field}.{member.Name}", $"'{member.Name}' is not a word of the edited prompt.");
            else
                words[member.Name] = fraction;
        }
        return (general, words.Count > 0 ? words : null);
    }

    private static void ImagicOnly(EditRequest request, Action<string, string> add)
    {
        NotFor(request.Eta, "eta", EditMethods.Imagic, add);
        NotFor(request.EmbeddingSteps, "embedding_steps", EditMethods.Imagic, add);
        NotFor(request.FinetuneSteps, "finetune_steps", EditMethods.Imagic, add);
        NotFor(request.EmbeddingLearningRate, "embedding_learning_rate", EditMethods.Imagic, add);
        NotFor(request.FinetuneLearningRate, "finetune_learning_rate", EditMethods.Imagic, add);
    }

    private static void NotFor(object? value, string field, string whose, Action<string, string> add)
    {
        if (value is not null)
            add(field, $"{field} applies only to {whose}.");
    }
}

/// <summary>The outcome of <see cref="EditRequestValidator.Validate"/>: the parameters, or the errors and their status.</summary>
public sealed record EditValidationResult(
    EditParameters? Parameters,
    IDictionary<string, string[]> Errors,
    int Status = 400,
    DecodedInputImage? Image = null,
    DecodedInputImage? Mask = null,
    JobOptions? JobOptions = null,
    IReadOnlyList<string>? LoraFields = null)
{
    public bool IsValid => Parameters is not null;
}
