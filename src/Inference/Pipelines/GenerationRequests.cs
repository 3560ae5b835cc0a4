using Easel.Inference.Customization.Lora;
using Easel.Inference.Customization.TextualInversion;

namespace Easel.Inference.Pipelines;

/// <summary>
/// What every generation shares: the prompts, the sampler and the seed. The pipeline validates it
/// (<see cref="StableDiffusionPipeline"/> throws <see cref="ArgumentException"/> naming the bad field).
/// </summary>
/// <param name="NegativePrompt">The unconditional prompt of classifier-free guidance. Empty means "none": SDXL
/// models whose model_index.json sets force_zeros_for_empty_prompt then use zero embeddings, as diffusers does
/// for <c>negative_prompt=None</c>.</param>
/// <param name="GuidanceScale">Classifier-free guidance weight w; w ≤ 1 skips the unconditional pass (Turbo models).</param>
/// <param name="Scheduler">A scheduler name ("ddim", "Euler a", …), or null for the one in the model folder.</param>
/// <param name="Seed">Seeds the request's CPU torch.Generators (see <see cref="GenerationRequest.SeedMode"/>).</param>
public abstract record GenerationRequest(
    string Prompt,
    string NegativePrompt,
    int Steps,
    double GuidanceScale,
    long Seed,
    string? Scheduler = null,
    int NumImages = 1,
    double Eta = 0.0)
{
    /// <summary>SDXL: the prompt of the second text encoder; null reuses <see cref="GenerationRequest.Prompt"/>.</summary>
    public string? Prompt2 { get; init; }

    /// <summary>SDXL: the negative prompt of the second text encoder; null reuses <see cref="GenerationRequest.NegativePrompt"/>.</summary>
    public string? NegativePrompt2 { get; init; }

    /// <summary>SDXL size and crop conditioning; null uses the defaults (no crop, original = target = output size).</summary>
    public MicroConditioning? Micro { get; init; }

    /// <summary>
    /// How <see cref="GenerationRequest.Seed"/> seeds the batch: <see cref="Pipelines.SeedMode.PerImage"/> (image i from its own
    /// generator seeded Seed + i) or <see cref="Pipelines.SeedMode.Batch"/> (one generator for the batch, diffusers' order).
    /// The two agree for a single image.
    /// </summary>
    public SeedMode SeedMode { get; init; } = SeedMode.PerImage;

    /// <summary>Overrides the scheduler's timestep_spacing ("leading", "trailing", "linspace"); Turbo models want "trailing".</summary>
    public string? TimestepSpacing { get; init; }

    /// <summary>
    /// The methods this request runs with (ControlNet, Attend-and-Excite, …), hooked into the denoising loop in this order
    /// after the hooks of the request's kind. A latent initialiser among them replaces the kind's own.
    /// </summary>
    public IReadOnlyList<Denoising.IDenoisingExtension> Extensions { get; init; } = [];

    /// <summary>
    /// Textual-inversion embeddings for this request only: the prompt and the negative prompt may use each one's
    /// <see cref="TextualInversionEmbedding.Token"/> (a multi-vector token stands for all its vectors). The cached
    /// tokenizer and text encoders are not changed. The caller keeps ownership (dispose them after the request).
    /// </summary>
    public IReadOnlyList<TextualInversionEmbedding>? Embeddings { get; init; }

    /// <summary>
    /// LoRA adapters for this request only, each at its scale: added to the pipeline's layers before the prompt is encoded
    /// and removed when the request ends, also after a failure or a cancel, so the next request sees the base weights'
    /// bits. The caller keeps ownership of the adapters.
    /// </summary>
    public IReadOnlyList<(LoraAdapter Adapter, double Scale)>? Loras { get; init; }

    /// <summary>
    /// GLIGEN grounding (a GLIGEN model only): the phrases are encoded with the pipeline's text encoder and the grounding
    /// extension joins the request's extensions.
    /// </summary>
    public Control.Gligen.GligenGrounding? Grounding { get; init; }

    /// <summary>
    /// True (default): the updates are folded into the weights for the request (W ← W₀ + Σ s·ΔW, W₀ restored from a kept
    /// copy after it), so the steps cost what the base model's do; false runs them beside each layer on every call.
    /// </summary>
    public bool MergeLoras { get; init; } = true;

    /// <summary>
    /// One prompt per image of the batch (NumImages of them) instead of <see cref="Prompt"/> for all, encoded one by one and
    /// stacked in the batch's row order; the negative prompt serves every row. Prompt-to-Prompt runs its source and edited
    /// prompts so, in one UNet call.
    /// </summary>
    public IReadOnlyList<string>? ImagePrompts { get; init; }
}

/// <summary>Which generators a batch's noise comes from.</summary>
public enum SeedMode
{
    /// <summary>Image i draws all its noise from a generator seeded Seed + i, so it can be regenerated alone with that seed (as in A1111).</summary>
    PerImage,

    /// <summary>One generator seeded Seed for the whole batch, drawn in diffusers' order: diffusers' images for <c>generator=torch.Generator().manual_seed(seed)</c>.</summary>
    Batch,
}

/// <summary>Text-to-image: starts from pure noise of the requested size.</summary>
public sealed record TextToImageRequest(
    string Prompt,
    string NegativePrompt,
    int Width,
    int Height,
    int Steps,
    double GuidanceScale,
    long Seed,
    string? Scheduler = null,
    int NumImages = 1,
    double Eta = 0.0)
    : GenerationRequest(Prompt, NegativePrompt, Steps, GuidanceScale, Seed, Scheduler, NumImages, Eta);

/// <summary>
/// Image-to-image (SDEdit, Meng et al. 2022): the image is encoded, noised to the timestep that leaves
/// int(Steps·Strength) steps, and denoised from there. The output has the image's size.
/// </summary>
/// <param name="Strength">In (0, 1]: how much of the schedule is re-run; 1 ignores the image except for its size.</param>
public sealed record ImageToImageRequest(
    string Prompt,
    string NegativePrompt,
    InputImage Image,
    double Strength,
    int Steps,
    double GuidanceScale,
    long Seed,
    string? Scheduler = null,
    int NumImages = 1,
    double Eta = 0.0)
    : GenerationRequest(Prompt, NegativePrompt, Steps, GuidanceScale, Seed, Scheduler, NumImages, Eta);

/// <summary>
/// Inpainting: repaints where <see cref="Mask"/> is white (≥ 0.5) and keeps the rest. Inpainting UNets (9 input
/// channels) see the mask and the masked image; ordinary UNets blend latents under the mask after every step.
/// </summary>
/// <param name="Mask">Same size as the image; 1 (white) = repaint. Binarised at 0.5.</param>
public sealed record InpaintRequest(
    string Prompt,
    string NegativePrompt,
    InputImage Image,
    InputImage Mask,
    int Steps,
    double GuidanceScale,
    long Seed,
    double Strength = 1.0,
    string? Scheduler = null,
    int NumImages = 1,
    double Eta = 0.0)
    : GenerationRequest(Prompt, NegativePrompt, Steps, GuidanceScale, Seed, Scheduler, NumImages, Eta);

/// <summary>
/// SDXL's size conditioning (Podell et al. 2023, §2.2): add_time_ids = original_size + crops_coords_top_left +
/// target_size, or original_size + crops_coords_top_left + aesthetic score for refiner-style UNets.
/// Sizes are (height, width) in pixels; null means the output size.
/// </summary>
public sealed record MicroConditioning
{
    public (int Height, int Width)? OriginalSize { get; init; }
    public (int Top, int Left) CropsCoordsTopLeft { get; init; }
    public (int Height, int Width)? TargetSize { get; init; }
    public double AestheticScore { get; init; } = 6.0;
    public double NegativeAestheticScore { get; init; } = 2.5;
}

/// <summary>Reported after every denoising step.</summary>
public sealed record DenoisingProgress(int Step, int TotalSteps)
{
    /// <summary>
    /// The latents after this step, (N, C, h, w) as the UNet sees them. Owned by the pipeline and valid only during the
    /// Report call (read it there, e.g. with <see cref="Imaging.LatentPreview"/>; never keep it).
    /// </summary>
    public TorchSharp.torch.Tensor? Latents { get; init; }

    /// <summary>How to read <see cref="Latents"/> (null when no latents are given).</summary>
    public Imaging.LatentFormat? LatentFormat { get; init; }
}

/// <summary>One generated image as 8-bit RGB, row-major, height × width × 3.</summary>
public sealed record GeneratedImage(int Width, int Height, byte[] Rgb);
