using Easel.Core.FineTunes;
using Easel.Core.Generation;
using Easel.Core.Images;
using Easel.Core.Jobs;
using Easel.Core.Models;
using Easel.Core.Options;
using Microsoft.Extensions.Options;

namespace Easel.Core.Editing;

/// <summary>
/// Checks an <see cref="EditRequest"/>: its method's own fields here, the sampling fields, the image and the mask as the
/// inpainting generation it is built on (<see cref="GenerationRequestValidator"/>, the same limits and messages). Errors
/// are keyed by the snake_case field name; the status is 413 for an input of too many bytes, 422 for a model that cannot
/// run the method, 400 otherwise.
/// </summary>
public sealed class EditRequestValidator(GenerationRequestValidator generations, IModelCatalog catalog, IOptions<FineTuneOptions> fineTunes)
{
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
            Add("method", $"method is required: {EditMethods.Blended}.");
        else if (EditMethods.Planned.Contains(method))
            Add("method", $"method '{method}' is not offered yet; this service offers {EditMethods.Blended}.");
        else if (method != EditMethods.Blended)
            Add("method", $"Unknown method '{request.Method}'. Known methods: {EditMethods.Blended}.");

        if (request.Image is null && imageBytes is null)
            Add("image", "image is required: the image to edit.");
        if (request.Mask is null && maskBytes is null)
            Add("mask", "mask is required: white where the image is edited, black where it is kept.");
        var background = string.IsNullOrWhiteSpace(request.Background) ? EditMethods.Backgrounds[0] : request.Background.Trim().ToLowerInvariant();
        if (!EditMethods.Backgrounds.Contains(background))
            Add("background", $"Unknown background '{request.Background}'. Known backgrounds: {string.Join(", ", EditMethods.Backgrounds)}.");
        var maxDecoderSteps = fineTunes.Value.MaxSteps;
        if (request.DecoderSteps is { } decoderSteps)
        {
            if (background != "decoder_optimization")
                Add("decoder_steps", "decoder_steps applies only to background decoder_optimization.");
            else if (decoderSteps < 1 || decoderSteps > maxDecoderSteps)
                Add("decoder_steps", $"decoder_steps must be between 1 and {maxDecoderSteps} (Easel:FineTunes:MaxSteps).");
        }

        var generation = generations.Validate(new GenerationRequest(request.Prompt, request.NegativePrompt, request.Model, null, null,
            request.Steps, request.GuidanceScale, request.Seed, request.Scheduler, request.NumImages, request.Image, request.Mask,
            request.Strength, request.Webhook, request.WebhookEvents, request.CancelAfter, request.Priority, request.SeedMode,
            Loras: request.Loras, Embeddings: request.Embeddings), imageBytes, maskBytes);
        foreach (var (field, messages) in generation.Errors)
            foreach (var message in messages)
                Add(field, message);
        var status = generation.Status == 413 || errors.Keys.All(generation.Errors.ContainsKey) ? generation.Status : 400;

        if (errors.Count == 0 && catalog.TryGet(generation.Parameters!.Model, out var model) && model.Inpainting)
        {
            status = 422;
            Add("model", $"Model '{model.Name}' has an inpainting UNet; Blended Latent Diffusion runs on a model with a 4-channel UNet (any ordinary one).");
        }
        if (errors.Count > 0)
            return new EditValidationResult(null, errors.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal), status);
        var parameters = EditParameters.From(method!, generation.Parameters!, background,
            background == "decoder_optimization" ? request.DecoderSteps ?? EditMethods.DefaultDecoderSteps : null);
        return new EditValidationResult(parameters, new Dictionary<string, string[]>(), 200, generation.Image, generation.Mask,
            generation.JobOptions, generation.LoraFields);
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
