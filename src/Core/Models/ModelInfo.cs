namespace Easel.Core.Models;

/// <summary>Architecture family of a Stable Diffusion model.</summary>
public enum ModelFamily
{
    Unknown,
    Sd15,
    Sd2,
    Sdxl,
}

/// <summary>How a model is stored on disk: a diffusers folder, or one LDM/SGM <c>.safetensors</c> file.</summary>
public enum ModelFormat
{
    Diffusers,
    SingleFile,
}

/// <summary>
/// The values a request gets for the fields it omits, recommended for one model. Width and height are the model's native
/// size (diffusers: <c>unet.config.sample_size × vae_scale_factor</c>); steps, guidance and scheduler are null when the model
/// recommends none (the service-wide <c>Easel:Generation:Default*</c> apply).
/// </summary>
public sealed record ModelDefaults(int Width, int Height, int? Steps = null, double? GuidanceScale = null, string? Scheduler = null);

/// <summary>
/// What the API needs to validate and default a request for a model, without loading it. Described by each process from
/// its own configuration; workers publish theirs in the database (<see cref="WorkerModel"/>).
/// </summary>
/// <param name="Inpainting">The UNet takes 9 input channels (latents, mask, masked-image latents).</param>
/// <param name="Problem">Why the model could not be described, when <paramref name="Family"/> is Unknown.</param>
/// <param name="VaeScaleFactor">Pixels per latent cell along each side (2^(len(vae block_out_channels) − 1): 8 for every
/// released SD model); input images must have sides that are multiples of it.</param>
/// <param name="SampleSize">The UNet's native latent size (unet/config.json <c>sample_size</c>).</param>
/// <param name="ConfigFrom">For a single file: the diffusers folder its configs, tokenizers and scheduler come from; null = the
/// family's built-in configs.</param>
/// <param name="Workers">The live workers serving the model; empty when none does (or when this is only a local description).</param>
/// <param name="Kind">A pipeline, or a control model that requests add to a pipeline of its <paramref name="Family"/>.</param>
/// <param name="Layout">The UNet encoder layout (a pipeline's UNet, a ControlNet's copy of it), to tell which control models
/// fit which pipelines; null when unknown (a single file).</param>
public sealed record ModelInfo(
    string Name,
    string Path,
    ModelFamily Family,
    bool Inpainting,
    bool IsDefault,
    string? Problem = null,
    int VaeScaleFactor = 8,
    int SampleSize = 64,
    ModelFormat Format = ModelFormat.Diffusers,
    ModelDefaults? Defaults = null,
    string? ConfigFrom = null,
    IReadOnlyList<string>? Workers = null,
    ModelKind Kind = ModelKind.Pipeline,
    UNetLayout? Layout = null)
{
    /// <summary>The recommended values; the native size when nothing else is known.</summary>
    public ModelDefaults EffectiveDefaults => Defaults ?? new ModelDefaults(SampleSize * VaeScaleFactor, SampleSize * VaeScaleFactor);

    public IReadOnlyList<string> ServingWorkers => Workers ?? [];

    /// <summary>
    /// Why a control model of this description cannot be added to <paramref name="pipeline"/>, or null when it can: the
    /// family and, where both are known, the encoder layouts must match.
    /// </summary>
    public string? MismatchWith(ModelInfo pipeline)
    {
        if (Kind == ModelKind.T2IAdapter)
            return AdapterMismatchWith(pipeline);
        if (Family != pipeline.Family)
            return $"'{Name}' is a {FamilyName(Family)} {KindName(Kind)}; model '{pipeline.Name}' is {FamilyName(pipeline.Family)}.";
        if (Layout is null || pipeline.Layout is null)
            return null;
        var mismatches = Layout.Mismatches(pipeline.Layout);
        return mismatches.Count == 0 ? null : $"'{Name}' does not fit the UNet of model '{pipeline.Name}': {string.Join("; ", mismatches)}.";
    }

    /// <summary>
    /// A T2I-Adapter's features are added to the UNet's down blocks, with the UNet's block channels: the XL layout
    /// (full_adapter_xl) fits a UNet whose first down block is plain, as SDXL's, the others one whose first block has
    /// attention, as SD 1.x/2.x's. When the UNet's block types are unknown (a single file), its family decides.
    /// </summary>
    private string? AdapterMismatchWith(ModelInfo pipeline)
    {
        var xl = Family == ModelFamily.Sdxl;
        if (pipeline.Layout?.FirstDownBlockPlain is { } plain ? xl != plain : xl != (pipeline.Family == ModelFamily.Sdxl))
            return $"'{Name}' is a T2I-Adapter for a UNet whose first down block {(xl ? "has no attention (sdxl)" : "has attention (sd15 and sd2)")}; "
                + $"model '{pipeline.Name}' ({FamilyName(pipeline.Family)}) has {(xl ? "attention there" : "none there")}.";
        if (Layout is null || pipeline.Layout is null || Layout.BlockOutChannels.SequenceEqual(pipeline.Layout.BlockOutChannels))
            return null;
        return $"'{Name}' gives features of [{string.Join(", ", Layout.BlockOutChannels)}] channels; the UNet of model '{pipeline.Name}' "
            + $"has block_out_channels [{string.Join(", ", pipeline.Layout.BlockOutChannels)}].";
    }

    /// <summary>The JSON name of a family (sd15, sd2, sdxl, unknown).</summary>
    public static string FamilyName(ModelFamily family) => family.ToString().ToLowerInvariant();

    /// <summary>The JSON name of a kind, as artifact kinds spell it (pipeline, controlnet).</summary>
    public static string KindName(ModelKind kind) => kind switch
    {
        ModelKind.ControlNet => "controlnet",
        ModelKind.T2IAdapter => "t2i_adapter",
        _ => "pipeline",
    };

    /// <summary>Whether a live worker serves the model, so that a job for it runs.</summary>
    public bool IsServed => ServingWorkers.Count > 0;
}
