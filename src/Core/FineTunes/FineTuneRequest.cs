namespace Easel.Core.FineTunes;

/// <summary>
/// A fine-tune as the client sends it (<c>POST /v1/fine-tunes</c>): a method trained on a base model from a few images,
/// ending in an artifact (a LoRA, an embedding) that generations can use by name.
/// </summary>
/// <param name="Method"><c>lora</c> or <c>textual_inversion</c>.</param>
/// <param name="BaseModel">A configured model (default: the service's default model).</param>
/// <param name="Images">Training images, base64 PNG or JPEG, all of one size (the training resolution).</param>
/// <param name="Captions">One caption per image; omitted, every image is captioned <paramref name="InstancePrompt"/>.</param>
/// <param name="Dataset">Instead of <paramref name="Images"/>: a zip archive (base64) of PNG/JPEG images with kohya-style
/// captions, a <c>.txt</c> file of the same name beside each image (an image without one gets <paramref name="InstancePrompt"/>).</param>
/// <param name="InstancePrompt">The caption of every image without one, e.g. "a green sks ring"; for textual inversion it
/// must contain <paramref name="Token"/> (default "a &lt;token&gt;").</param>
/// <param name="Token">Textual inversion: the new token, e.g. "&lt;ring&gt;", which prompts then use.</param>
/// <param name="InitializerToken">Textual inversion: an existing word whose embedding the new token starts from.</param>
/// <param name="Resolution">The training size; omitted, the images' size (images are not resized).</param>
/// <param name="Rank">LoRA rank (default 4).</param>
/// <param name="Alpha">LoRA alpha (default = rank, so α/r = 1).</param>
/// <param name="TargetModules">LoRA: the layers that get an update, by the end of their path (default the UNet attention
/// projections <c>to_q</c>, <c>to_k</c>, <c>to_v</c>, <c>to_out.0</c>; e.g. <c>conv1</c>, <c>conv2</c> add the resnet convolutions,
/// <c>text_encoder.q_proj</c> a text-encoder projection).</param>
/// <param name="ValidationPrompts">Prompts generated every <paramref name="ValidateEvery"/> steps and at the end; the images
/// arrive as <c>validation</c> events and stay with the job.</param>
/// <param name="Name">The artifact's name (default "&lt;method&gt;-&lt;job id&gt;").</param>
public sealed record FineTuneRequest(
    string? Method,
    string? BaseModel = null,
    IReadOnlyList<string>? Images = null,
    [property: FreeTextItems] IReadOnlyList<string>? Captions = null,
    string? Dataset = null,
    string? InstancePrompt = null,
    string? Token = null,
    string? InitializerToken = null,
    int? Steps = null,
    double? LearningRate = null,
    int? BatchSize = null,
    int? Resolution = null,
    int? Rank = null,
    double? Alpha = null,
    IReadOnlyList<string>? TargetModules = null,
    long? Seed = null,
    [property: FreeTextItems] IReadOnlyList<string>? ValidationPrompts = null,
    int? ValidateEvery = null,
    string? Name = null,
    string? Webhook = null,
    IReadOnlyList<string>? WebhookEvents = null,
    string? CancelAfter = null,
    int? Priority = null);

/// <summary>
/// A validated fine-tune with every value decided: what the job stores as its request (images as stored-input references,
/// never pixels) and what the worker runs. <see cref="DatasetHash"/> is the SHA-256 of the images' blob keys and the
/// captions, in order: the artifact's lineage.
/// </summary>
public sealed record FineTuneParameters(
    string Method,
    string Model,
    IReadOnlyList<Generation.StoredInputImage> Images,
    IReadOnlyList<string> Captions,
    string? Token,
    string? InitializerToken,
    int Steps,
    double LearningRate,
    int BatchSize,
    int Resolution,
    int? Rank,
    double? Alpha,
    IReadOnlyList<string>? TargetModules,
    int Seed,
    IReadOnlyList<string> ValidationPrompts,
    int ValidateEvery,
    string? Name,
    string DatasetHash = "");

/// <summary>The fine-tune methods a worker knows, by their request name.</summary>
public static class FineTuneMethods
{
    public const string Lora = "lora";
    public const string TextualInversion = "textual_inversion";

    public static readonly IReadOnlyList<string> Known = [Lora, TextualInversion];

    /// <summary>The learning rate of a method when the request gives none (AdamW, constant after a short warm-up).</summary>
    public static double DefaultLearningRate(string method) => method == TextualInversion ? 5e-3 : 1e-3;
}
