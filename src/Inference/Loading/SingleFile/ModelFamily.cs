namespace Easel.Inference.Loading.SingleFile;

/// <summary>The Stable Diffusion architecture a single-file checkpoint holds, as told by its keys and shapes.</summary>
public enum ModelFamily
{
    /// <summary>SD 1.x: CLIP ViT-L text encoder under <c>cond_stage_model.transformer.</c>.</summary>
    StableDiffusion1,
    /// <summary>SD 1.x inpainting: as SD 1.x with a 9-channel UNet input (latents, mask, masked-image latents).</summary>
    StableDiffusion1Inpainting,
    /// <summary>SD 2.x: OpenCLIP ViT-H text encoder under <c>cond_stage_model.model.</c> (fused attention in_proj), linear UNet projections.</summary>
    StableDiffusion2,
    /// <summary>SD 2.x inpainting: as SD 2.x with a 9-channel UNet input.</summary>
    StableDiffusion2Inpainting,
    /// <summary>SDXL base: CLIP ViT-L (<c>conditioner.embedders.0.transformer.</c>) + OpenCLIP bigG (<c>conditioner.embedders.1.model.</c>), label_emb.</summary>
    StableDiffusionXL,
    /// <summary>SDXL inpainting: as SDXL base with a 9-channel UNet input.</summary>
    StableDiffusionXLInpainting,
    /// <summary>SDXL refiner: only the OpenCLIP bigG encoder (<c>conditioner.embedders.0.model.</c>).</summary>
    StableDiffusionXLRefiner,
}

/// <summary>Family traits used by loaders and pipelines.</summary>
public static class ModelFamilyExtensions
{
    public static bool IsInpainting(this ModelFamily family) =>
        family is ModelFamily.StableDiffusion1Inpainting or ModelFamily.StableDiffusion2Inpainting or ModelFamily.StableDiffusionXLInpainting;

    public static bool IsXL(this ModelFamily family) =>
        family is ModelFamily.StableDiffusionXL or ModelFamily.StableDiffusionXLInpainting or ModelFamily.StableDiffusionXLRefiner;

    /// <summary>Whether the family has a second text encoder (SDXL's CLIPTextModelWithProjection, text_encoder_2).</summary>
    public static bool HasTextEncoder2(this ModelFamily family) => family.IsXL();

    /// <summary>Whether the family has a first text encoder (text_encoder); the SDXL refiner has only text_encoder_2.</summary>
    public static bool HasTextEncoder(this ModelFamily family) => family != ModelFamily.StableDiffusionXLRefiner;

    /// <summary>
    /// Whether Easel ships the family's configs, tokenizers and scheduler (<see cref="DefaultConfigs"/>), so that its
    /// single files load without a config folder. The SDXL refiner has none: it needs its diffusers folder.
    /// </summary>
    public static bool HasBuiltInConfigs(this ModelFamily family) => family != ModelFamily.StableDiffusionXLRefiner;
}
