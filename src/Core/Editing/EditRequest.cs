using Easel.Core.Generation;

namespace Easel.Core.Editing;

/// <summary>
/// An edit as the client sends it (<c>POST /v1/edits</c>); <see cref="EditRequestValidator"/> turns it into
/// <see cref="EditParameters"/>. The sampling fields mean what they mean in a generation.
/// </summary>
/// <param name="Method"><c>blended</c>: Blended Latent Diffusion (Avrahami et al. 2023), the region under <paramref name="Mask"/>
/// redrawn under the prompt and the rest kept.</param>
/// <param name="Image">The image to edit: base64 PNG or JPEG (or a stored input); a file part in multipart.</param>
/// <param name="Mask">White (≥ 50 %) = edit, black = keep; an 8-bit grey or RGB image of the image's size.</param>
/// <param name="Strength">Where in the schedule the edit starts, in (0, 1]; default 1 = from pure noise inside the mask.</param>
/// <param name="Background"><c>pixel_blend</c> (default: the input's pixels back outside the feathered mask),
/// <c>decoder_optimization</c> (the paper's per-image decoder fine-tune), or <c>none</c>.</param>
/// <param name="DecoderSteps">Steps of the decoder fine-tune (<c>decoder_optimization</c> only); default 100.</param>
public sealed record EditRequest(
    string? Method,
    string? Prompt = null,
    string? NegativePrompt = null,
    string? Model = null,
    InputImageField? Image = null,
    InputImageField? Mask = null,
    int? Steps = null,
    double? GuidanceScale = null,
    double? Strength = null,
    long? Seed = null,
    string? Scheduler = null,
    int? NumImages = null,
    string? SeedMode = null,
    string? Background = null,
    int? DecoderSteps = null,
    IReadOnlyList<LoraRequest>? Loras = null,
    IReadOnlyList<string>? Embeddings = null,
    string? Webhook = null,
    IReadOnlyList<string>? WebhookEvents = null,
    string? CancelAfter = null,
    int? Priority = null);

/// <summary>
/// A validated edit with every value decided: what the job stores as its request and the worker runs. Its sampling fields
/// have a generation's names and places (the stored image and mask at <c>image.blob</c> / <c>mask.blob</c>, where
/// retention and stored-input references look), so <see cref="ToGeneration"/> is the inpainting it is built on.
/// </summary>
public sealed record EditParameters(
    string Method,
    string Prompt,
    string NegativePrompt,
    string Model,
    int Width,
    int Height,
    int Steps,
    double GuidanceScale,
    long Seed,
    string Scheduler,
    int NumImages,
    double Strength,
    StoredInputImage? Image,
    StoredInputImage? Mask,
    string Background,
    int? DecoderSteps = null,
    SeedMode SeedMode = SeedMode.PerImage,
    IReadOnlyList<LoraUse>? Loras = null,
    IReadOnlyList<string>? Embeddings = null)
{
    /// <summary>The inpainting generation with the edit's image, mask and sampling settings.</summary>
    public GenerationParameters ToGeneration() => new(Prompt, NegativePrompt, Model, Width, Height, Steps, GuidanceScale, Seed, Scheduler,
        NumImages, GenerationMode.Inpaint, Strength, Image, Mask, SeedMode, Loras, Embeddings);

    /// <summary>The edit of a validated inpainting generation.</summary>
    public static EditParameters From(string method, GenerationParameters generation, string background, int? decoderSteps) => new(
        method, generation.Prompt, generation.NegativePrompt, generation.Model, generation.Width, generation.Height, generation.Steps,
        generation.GuidanceScale, generation.Seed, generation.Scheduler, generation.NumImages, generation.Strength ?? 1.0, generation.Image,
        generation.Mask, background, decoderSteps, generation.SeedMode, generation.Loras, generation.Embeddings);
}

/// <summary>The edit methods and their background treatments, by their request names.</summary>
public static class EditMethods
{
    public const string Blended = "blended";

    /// <summary>The methods of the seed that are not offered yet, named in the refusal so that a client knows they are planned.</summary>
    public static readonly IReadOnlyList<string> Planned = ["prompt_to_prompt", "imagic"];

    public static readonly IReadOnlyList<string> Backgrounds = ["pixel_blend", "decoder_optimization", "none"];

    public const int DefaultDecoderSteps = 100;
}
