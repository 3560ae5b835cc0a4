using Easel.Core.Generation;

namespace Easel.Core.Editing;

/// <summary>
/// An edit as the client sends it (<c>POST /v1/edits</c>); <see cref="EditRequestValidator"/> turns it into
/// <see cref="EditParameters"/>. The sampling fields mean what they mean in a generation.
/// </summary>
/// <param name="Method"><c>blended</c>: Blended Latent Diffusion (Avrahami et al. 2023), the region under <paramref name="Mask"/>
/// redrawn under the prompt and the rest kept. <c>prompt_to_prompt</c>: Prompt-to-Prompt (Hertz et al. 2022), the source
/// remade under <paramref name="Prompt"/> with the source's attention maps injected.</param>
/// <param name="Prompt">blended: what the masked region should show; prompt_to_prompt: the edited prompt.</param>
/// <param name="Image">The image to edit: base64 PNG or JPEG (or a stored input); a file part in multipart. For
/// prompt_to_prompt the real source image (as <c>source.image</c>).</param>
/// <param name="Mask">White (≥ 50 %) = edit, black = keep; an 8-bit grey or RGB image of the image's size.</param>
/// <param name="Strength">Where in the schedule the edit starts, in (0, 1]; default 1 = from pure noise inside the mask.</param>
/// <param name="Background"><c>pixel_blend</c> (default: the input's pixels back outside the feathered mask),
/// <c>decoder_optimization</c> (the paper's per-image decoder fine-tune), or <c>none</c>.</param>
/// <param name="DecoderSteps">Steps of the decoder fine-tune (<c>decoder_optimization</c> only); default 100.</param>
/// <param name="Source">prompt_to_prompt: <c>{prompt, seed}</c> for a generated source, or <c>{prompt, image}</c> for a real
/// image and the prompt that describes it (inverted first, see <paramref name="Inversion"/>).</param>
/// <param name="CrossReplaceSteps">prompt_to_prompt: the fraction of the steps during which the edited prompt's
/// cross-attention maps are the source's (default 0.8), or an object of fractions per word of the edited prompt with
/// <c>"default"</c> for the others.</param>
/// <param name="SelfReplaceSteps">prompt_to_prompt: the fraction of the steps during which the self-attention maps are the source's (default 0.4).</param>
/// <param name="Reweight">prompt_to_prompt: <c>{"word": factor}</c>, words of the edited prompt whose attention is scaled (0 removes the word's effect).</param>
/// <param name="LocalBlend">prompt_to_prompt: words (of either prompt) whose attention region is the only part the edit may change.</param>
/// <param name="Width">prompt_to_prompt with a generated source: its width (the model's default when omitted).</param>
/// <param name="Height">prompt_to_prompt with a generated source: its height.</param>
/// <param name="Inversion">prompt_to_prompt with a real image: <c>null_text</c> (default; Mokady et al. 2023) or <c>ddim</c> (faster, weaker).</param>
/// <param name="NullTextLearningRate">null_text inversion's Adam rate (default 1e-2, the paper's).</param>
/// <param name="Eta">imagic: the interpolation weight η of the first render(s), a number or a list (default 0.7): the text
/// is η·e_tgt + (1 − η)·e_opt.</param>
/// <param name="EmbeddingSteps">imagic: stage A's steps (default 200).</param>
/// <param name="FinetuneSteps">imagic: stage B's steps (default 300).</param>
/// <param name="EmbeddingLearningRate">imagic: stage A's rate (default 1e-2).</param>
/// <param name="FinetuneLearningRate">imagic: stage B's rate (default 1e-4).</param>
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
    EditSource? Source = null,
    System.Text.Json.JsonElement? CrossReplaceSteps = null,
    double? SelfReplaceSteps = null,
    IReadOnlyDictionary<string, double>? Reweight = null,
    IReadOnlyList<string>? LocalBlend = null,
    int? Width = null,
    int? Height = null,
    string? Inversion = null,
    double? NullTextLearningRate = null,
    System.Text.Json.JsonElement? Eta = null,
    int? EmbeddingSteps = null,
    int? FinetuneSteps = null,
    double? EmbeddingLearningRate = null,
    double? FinetuneLearningRate = null,
    IReadOnlyList<LoraRequest>? Loras = null,
    IReadOnlyList<string>? Embeddings = null,
    string? Webhook = null,
    IReadOnlyList<string>? WebhookEvents = null,
    string? CancelAfter = null,
    int? Priority = null);

/// <summary>A render of an Imagic edit session (<c>POST /v1/edits/{session}/render</c>): any η and seed, no training.</summary>
/// <param name="Eta">A number or a list (default 0.7): one image per value.</param>
public sealed record ImagicRenderRequest(
    System.Text.Json.JsonElement? Eta = null,
    long? Seed = null,
    int? Steps = null,
    double? GuidanceScale = null,
    string? Scheduler = null,
    string? NegativePrompt = null,
    string? Webhook = null,
    IReadOnlyList<string>? WebhookEvents = null,
    string? CancelAfter = null,
    int? Priority = null);

/// <summary>What a render needs of its edit_session artifact.</summary>
public sealed record ImagicSessionInfo(Guid Id, string Model, string TargetPrompt, StoredInputImage Image, ImagicUse Training);

/// <summary>The source of a Prompt-to-Prompt edit: a prompt and a seed (generated), or a prompt and a real image.</summary>
/// <param name="Prompt">The source prompt; for a real image, what the image shows (inversion needs it).</param>
/// <param name="Seed">The generated source's seed (random when omitted).</param>
/// <param name="Image">A real image: base64 PNG or JPEG, or a stored input.</param>
public sealed record EditSource(string? Prompt = null, long? Seed = null, InputImageField? Image = null);

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
    double? Strength,
    StoredInputImage? Image,
    StoredInputImage? Mask,
    string? Background,
    int? DecoderSteps = null,
    SeedMode SeedMode = SeedMode.PerImage,
    IReadOnlyList<LoraUse>? Loras = null,
    IReadOnlyList<string>? Embeddings = null,
    PromptToPromptUse? PromptToPrompt = null,
    ImagicUse? Imagic = null)
{
    /// <summary>Whether the edit trains (Imagic's stages A and B) and so runs on the model's train queue.</summary>
    public bool Trains => Method == EditMethods.Imagic && Imagic is { Session: null };

    /// <summary><see cref="Trains"/> of a stored request, read from its JSON (queues are picked from the row).</summary>
    public static bool TrainsIn(string request)
    {
        using var document = System.Text.Json.JsonDocument.Parse(request);
        var root = document.RootElement;
        return root.TryGetProperty("method", out var method) && method.GetString() == EditMethods.Imagic
            && root.TryGetProperty("imagic", out var imagic) && imagic.ValueKind == System.Text.Json.JsonValueKind.Object
            && (!imagic.TryGetProperty("session", out var session) || session.ValueKind == System.Text.Json.JsonValueKind.Null);
    }

    /// <summary>
    /// The generation the edit is built on: blended — the inpainting with its image, mask and sampling settings;
    /// prompt_to_prompt — the edited prompt's text-to-image of two images ([source, edit], one seed), the real source image
    /// kept as its input; imagic — the target prompt's text-to-image of one image per η.
    /// </summary>
    public GenerationParameters ToGeneration() => Method is EditMethods.PromptToPrompt or EditMethods.Imagic
        ? new(Prompt, NegativePrompt, Model, Width, Height, Steps, GuidanceScale, Seed, Scheduler, Method == EditMethods.Imagic ? Imagic!.Etas.Count : 2,
            GenerationMode.TextToImage, null, Image, null, SeedMode.Batch, Loras, Embeddings)
        : new(Prompt, NegativePrompt, Model, Width, Height, Steps, GuidanceScale, Seed, Scheduler, NumImages, GenerationMode.Inpaint, Strength, Image, Mask,
            SeedMode, Loras, Embeddings);

    /// <summary>The edit of a validated generation (for prompt_to_prompt, the edited prompt's).</summary>
    public static EditParameters From(string method, GenerationParameters generation, string? background, int? decoderSteps,
        PromptToPromptUse? promptToPrompt = null) => new(
        method, generation.Prompt, generation.NegativePrompt, generation.Model, generation.Width, generation.Height, generation.Steps,
        generation.GuidanceScale, generation.Seed, generation.Scheduler, promptToPrompt is null ? generation.NumImages : 1,
        promptToPrompt is null ? generation.Strength ?? 1.0 : null, generation.Image, generation.Mask, background, decoderSteps,
        promptToPrompt is null ? generation.SeedMode : SeedMode.Batch, generation.Loras, generation.Embeddings, promptToPrompt);
}

/// <summary>A validated Imagic edit's own values: training (no session yet) or a render of a session.</summary>
/// <param name="Etas">The renders' η values; a training job's are those of the render job it submits when done.</param>
/// <param name="Session">The edit_session artifact a render uses; null for the training job.</param>
public sealed record ImagicUse(
    IReadOnlyList<double> Etas,
    int EmbeddingSteps,
    int FinetuneSteps,
    double EmbeddingLearningRate,
    double FinetuneLearningRate,
    Guid? Session = null);

/// <summary>A validated Prompt-to-Prompt edit's own values; the source image, if any, is the edit's <c>image</c>.</summary>
/// <param name="Inversion">For a real source: null_text or ddim; null for a generated source.</param>
public sealed record PromptToPromptUse(
    string SourcePrompt,
    double CrossReplaceSteps,
    IReadOnlyDictionary<string, double>? CrossReplaceStepsPerWord,
    double SelfReplaceSteps,
    IReadOnlyDictionary<string, double>? Reweight,
    IReadOnlyList<string>? LocalBlend,
    string? Inversion,
    double? NullTextLearningRate);

/// <summary>The edit methods and their background treatments, by their request names.</summary>
public static class EditMethods
{
    public const string Blended = "blended";

    public const string PromptToPrompt = "prompt_to_prompt";

    public const string Imagic = "imagic";

    public static readonly IReadOnlyList<string> Offered = [Blended, PromptToPrompt, Imagic];

    public const double DefaultEta = 0.7;

    /// <summary>Largest η: Imagic's interpolation may extrapolate past the target a little.</summary>
    public const double MaxEta = 1.5;

    public const int MaxEtas = 8;

    public static readonly IReadOnlyList<string> Inversions = ["null_text", "ddim"];

    /// <summary>Whether <paramref name="word"/> is a space-separated word of <paramref name="prompt"/> (case and surrounding punctuation aside).</summary>
    public static bool IsWordOf(string prompt, string word) =>
        prompt.Split(' ', StringSplitOptions.RemoveEmptyEntries).Any(w => string.Equals(Bare(w), Bare(word), StringComparison.OrdinalIgnoreCase));

    private static string Bare(string word) => word.Trim(',', '.', ';', ':', '!', '?');

    public static readonly IReadOnlyList<string> Backgrounds = ["pixel_blend", "decoder_optimization", "none"];

    public const int DefaultDecoderSteps = 100;
}
