namespace Easel.Core.Generation;

/// <summary>
/// A generation as the client sends it (<c>POST /v1/generations</c>). Omitted fields take the configured defaults;
/// <see cref="GenerationRequestValidator"/> turns it into <see cref="GenerationParameters"/>.
/// Without <see cref="Image"/> it is text-to-image; with an image, image-to-image; with an image and a
/// <see cref="Mask"/>, inpainting.
/// </summary>
/// <param name="Image">Image-to-image / inpaint input: base64 PNG or JPEG (a <c>data:image/...;base64,</c> prefix is
/// allowed), or a stored input as a job's request shows it (<see cref="InputImageField"/>). The output has the image's
/// size. In a multipart request this is a file part instead.</param>
/// <param name="Mask">Inpaint mask, same size as the image: white (≥ 50 %) is repainted, black kept. Base64 PNG or JPEG
/// (or a stored input); colour masks are converted to luminance.</param>
/// <param name="Strength">In (0, 1]: how much of the schedule is re-run over the image. Default 0.8 for image-to-image,
/// 1.0 for inpainting.</param>
/// <param name="Webhook">URL that receives the job (Standard Webhooks signature) on the events of <paramref name="WebhookEvents"/>.</param>
/// <param name="WebhookEvents">Subset of started, progress, completed; default completed.</param>
/// <param name="CancelAfter">Deadline: a duration ("90s", "5m", "1h30m", seconds) or an RFC 3339 time. Queued past it → canceled;
/// running past it → stopped.</param>
/// <param name="Priority">-100 … 100, default 0: higher runs earlier among queued jobs.</param>
/// <param name="SeedMode"><c>per_image</c> (default): image i uses seed + i and regenerating it alone with that seed gives
/// the same pixels; <c>batch</c>: one generator seeded <paramref name="Seed"/> for the whole batch, as diffusers draws it.</param>
/// <param name="Mode">Optional: text_to_image, image_to_image or inpaint; when sent it must be what the inputs make it (a job's
/// <c>request</c> shows it, so the shown request can be submitted again).</param>
/// <param name="Loras">LoRAs applied for this request: <c>{"artifact": "&lt;id or name&gt;", "scale": 0.8}</c> (scale default 1).
/// The A1111 prompt form <c>&lt;lora:name:0.8&gt;</c> adds one too and is removed from the prompt text.</param>
/// <param name="Embeddings">Textual-inversion embeddings (artifact ids or names) whose tokens the prompt and the negative prompt
/// may use; a negative embedding goes in the negative prompt.</param>
/// <param name="Controlnets">ControlNet units, each with its own control image and weights; their residuals add up.</param>
/// <param name="Adapters">T2I-Adapters, each with its own condition image; their features add up.</param>
/// <param name="Grounding">GLIGEN phrases and boxes (a GLIGEN model only).</param>
/// <param name="AttendAndExcite">Attend-and-Excite: every named subject gets attended ("a cat and a frog" shows both).</param>
/// <param name="StructuredGuidance">Structured Diffusion Guidance: <c>true</c>, or the noun phrases whose attributes bind to their nouns.</param>
public sealed record GenerationRequest(
    string? Prompt,
    string? NegativePrompt = null,
    string? Model = null,
    int? Width = null,
    int? Height = null,
    int? Steps = null,
    double? GuidanceScale = null,
    long? Seed = null,
    string? Scheduler = null,
    int? NumImages = null,
    InputImageField? Image = null,
    InputImageField? Mask = null,
    double? Strength = null,
    string? Webhook = null,
    IReadOnlyList<string>? WebhookEvents = null,
    string? CancelAfter = null,
    int? Priority = null,
    string? SeedMode = null,
    string? Mode = null,
    IReadOnlyList<LoraRequest>? Loras = null,
    IReadOnlyList<string>? Embeddings = null,
    IReadOnlyList<ControlNetRequest>? Controlnets = null,
    IReadOnlyList<AdapterRequest>? Adapters = null,
    GroundingRequest? Grounding = null,
    AttendAndExciteRequest? AttendAndExcite = null,
    StructuredGuidanceRequest? StructuredGuidance = null);

/// <summary>GLIGEN grounding (Li et al. 2023): one phrase per box; needs a model whose UNet has GLIGEN's gated self-attention.</summary>
/// <param name="Phrases">What stands in each box ("a red circle").</param>
/// <param name="Boxes">[x0, y0, x1, y1] per phrase, fractions of the image (0 = left/top), x1 &gt; x0 and y1 &gt; y0.</param>
/// <param name="Beta">Scheduled sampling: the grounding layers run for the first ⌊β·steps⌋ steps; default 0.3 as the paper.</param>
public sealed record GroundingRequest(IReadOnlyList<string>? Phrases = null, IReadOnlyList<double[]>? Boxes = null, double? Beta = null);

/// <summary>Validated grounding, as the job stores it.</summary>
public sealed record GroundingUse(IReadOnlyList<string> Phrases, IReadOnlyList<double[]> Boxes, double Beta);

/// <summary>One T2I-Adapter of a request; several are combined as diffusers' MultiAdapter (features summed with the scales as weights).</summary>
/// <param name="Model">A configured model of kind t2i_adapter (GET /v1/models) that fits the request's model.</param>
/// <param name="Image">The condition image: base64 PNG/JPEG or a stored input reference; preprocessed, then resized to the output size.</param>
/// <param name="Scale">Multiplies the adapter's features (diffusers' adapter_conditioning_scale); 0 … 2, default 1.</param>
/// <param name="Factor">Fraction of the steps, from the first, that get the features (diffusers' adapter_conditioning_factor); default 1.</param>
/// <param name="Preprocessor">As a ControlNet unit's (the T2I colour adapter wants <c>color</c>); default none.</param>
/// <param name="ResizeMode">resize, crop (default) or fill.</param>
/// <param name="LowThreshold">canny, scribble: as POST /v1/preprocess.</param>
/// <param name="HighThreshold">canny, scribble: as POST /v1/preprocess.</param>
/// <param name="BlurSigma">canny, scribble: as POST /v1/preprocess.</param>
/// <param name="PreprocessorSeed">shuffle: the warp's seed.</param>
public sealed record AdapterRequest(
    string? Model,
    InputImageField? Image = null,
    double? Scale = null,
    double? Factor = null,
    string? Preprocessor = null,
    string? ResizeMode = null,
    double? LowThreshold = null,
    double? HighThreshold = null,
    double? BlurSigma = null,
    long? PreprocessorSeed = null);

/// <summary>One ControlNet unit of a request (A1111's unit, diffusers' MultiControlNet entry).</summary>
/// <param name="Model">A configured model of kind controlnet (GET /v1/models) that fits the request's model.</param>
/// <param name="Image">The control image: base64 PNG/JPEG or a stored input reference; preprocessed, then resized to the output size.</param>
/// <param name="Scale">Multiplies the residuals (diffusers' controlnet_conditioning_scale); 0 … 2, default 1.</param>
/// <param name="Start">Fraction of the steps before which the unit is off; default 0.</param>
/// <param name="End">Fraction of the steps after which the unit is off; default 1.</param>
/// <param name="GuessMode">diffusers' guess mode: residuals ramped from 0.1 to 1 and the conditional half only.</param>
/// <param name="ControlMode">balanced (default), prompt_more_important or control_more_important (A1111's control modes).</param>
/// <param name="Preprocessor">A preprocessor of POST /v1/preprocess turning the image into the map; default none (the image is the map).</param>
/// <param name="ResizeMode">resize, crop (default) or fill: how the map is fitted to the output size.</param>
/// <param name="LowThreshold">canny, scribble: as POST /v1/preprocess.</param>
/// <param name="HighThreshold">canny, scribble: as POST /v1/preprocess.</param>
/// <param name="BlurSigma">canny, scribble: as POST /v1/preprocess.</param>
/// <param name="PreprocessorSeed">shuffle: the warp's seed, as <c>seed</c> of POST /v1/preprocess.</param>
public sealed record ControlNetRequest(
    string? Model,
    InputImageField? Image = null,
    double? Scale = null,
    double? Start = null,
    double? End = null,
    bool? GuessMode = null,
    string? ControlMode = null,
    string? Preprocessor = null,
    string? ResizeMode = null,
    double? LowThreshold = null,
    double? HighThreshold = null,
    double? BlurSigma = null,
    long? PreprocessorSeed = null);

/// <summary>One LoRA of a request.</summary>
/// <param name="Artifact">The id or the name of one of the caller's LoRA artifacts.</param>
/// <param name="Scale">The LoRA's strength (multiplies its α/r-scaled update); default 1.</param>
public sealed record LoraRequest(string? Artifact, double? Scale = null);

/// <summary>What a generation does, decided by which inputs the request carries.</summary>
public enum GenerationMode
{
    TextToImage,
    ImageToImage,
    Inpaint,
}

/// <summary>How a generation's seed seeds its batch (the request's <c>seed_mode</c>).</summary>
public enum SeedMode
{
    /// <summary>Image i draws its noise from its own generator seeded Seed + i: regenerating it alone with that seed gives the same pixels.</summary>
    PerImage,

    /// <summary>One generator seeded Seed for the whole batch (diffusers' order); image i cannot be regenerated alone.</summary>
    Batch,
}

/// <summary>
/// An input image (or mask) of a job: decoded, checked and re-encoded as a plain PNG (RGB for images, 8-bit gray for
/// masks), stored in the blob store under its SHA-256. The job's request JSON carries this reference, never the pixels.
/// </summary>
public sealed record StoredInputImage(string Blob, int Width, int Height);

/// <summary>
/// A validated generation with every value decided (defaults applied, scheduler normalized, seed chosen): what the job
/// stores as its request and what the worker runs. With <see cref="SeedMode.PerImage"/> image <c>i</c> of the batch is
/// generated (and recorded) with seed <c>Seed + i</c>; with <see cref="SeedMode.Batch"/> all images come from one
/// generator seeded <see cref="Seed"/>.
/// For image-to-image and inpainting, <see cref="Width"/>/<see cref="Height"/> are the input image's size.
/// <see cref="Loras"/> and <see cref="Embeddings"/> hold artifact ids once the API has resolved them; <see cref="Prompt"/> and
/// <see cref="NegativePrompt"/> no longer hold the <c>&lt;lora:…&gt;</c> tags, which became entries of <see cref="Loras"/>.
/// </summary>
public sealed record GenerationParameters(
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
    GenerationMode Mode = GenerationMode.TextToImage,
    double? Strength = null,
    StoredInputImage? Image = null,
    StoredInputImage? Mask = null,
    SeedMode SeedMode = SeedMode.PerImage,
    IReadOnlyList<LoraUse>? Loras = null,
    IReadOnlyList<string>? Embeddings = null,
    IReadOnlyList<ControlNetUse>? Controlnets = null,
    IReadOnlyList<AdapterUse>? Adapters = null,
    GroundingUse? Grounding = null,
    AttendAndExciteUse? AttendAndExcite = null,
    StructuredGuidanceUse? StructuredGuidance = null);

/// <summary>A validated T2I-Adapter with every value decided; the image is stored as a control unit's is.</summary>
/// <param name="Image">Set by the API once the image is stored.</param>
public sealed record AdapterUse(
    string Model,
    StoredInputImage? Image,
    double Scale,
    double Factor,
    string Preprocessor,
    string ResizeMode,
    double? LowThreshold = null,
    double? HighThreshold = null,
    double? BlurSigma = null,
    long? PreprocessorSeed = null);

/// <summary>
/// A validated ControlNet unit with every value decided: the control image stored as an input (its original pixels; the
/// worker preprocesses and resizes it, so the job's request submits again as it stands).
/// </summary>
/// <param name="Image">Set by the API once the image is stored.</param>
public sealed record ControlNetUse(
    string Model,
    StoredInputImage? Image,
    double Scale,
    double Start,
    double End,
    bool GuessMode,
    string ControlMode,
    string Preprocessor,
    string ResizeMode,
    double? LowThreshold = null,
    double? HighThreshold = null,
    double? BlurSigma = null,
    long? PreprocessorSeed = null);

/// <summary>
/// A LoRA a validated request applies: <see cref="Artifact"/> is what the request named until the API resolves it, then the
/// artifact's id (so the job keeps working from its own reference after the artifact is deleted or renamed). Shown in a
/// job's request as <c>{"artifact", "scale"}</c>, which submits again as it stands.
/// </summary>
public sealed record LoraUse(string Artifact, double Scale);
