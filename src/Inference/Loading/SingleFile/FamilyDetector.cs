namespace Easel.Inference.Loading.SingleFile;

/// <summary>Tells the family of an original-layout checkpoint from its key names and tensor shapes.</summary>
public static class FamilyDetector
{
    internal const string UNetPrefix = "model.diffusion_model.";
    internal const string VaePrefix = "first_stage_model.";
    internal const string Sd1TextPrefix = "cond_stage_model.transformer.";
    internal const string Sd2TextPrefix = "cond_stage_model.model.";
    internal const string XlTextPrefix = "conditioner.embedders.0.transformer.";
    internal const string XlText2Prefix = "conditioner.embedders.1.model.";
    internal const string RefinerText2Prefix = "conditioner.embedders.0.model.";
    private const string ConvIn = UNetPrefix + "input_blocks.0.0.weight";

    /// <summary>
    /// Detects the family from <paramref name="shapes"/> (every key of the file with its shape). Text-encoder layouts
    /// decide SD1/SD2/SDXL; a 9-channel UNet input makes it the inpainting variant. A file with only a UNet falls back
    /// to UNet traits (label_emb → SDXL; linear proj_in or a 1024-wide cross-attention context → SD2; else SD1).
    /// </summary>
    /// <exception cref="InvalidDataException">The keys are not those of a Stable Diffusion checkpoint in the original layout.</exception>
    public static ModelFamily Detect(IReadOnlyDictionary<string, long[]> shapes)
    {
        bool Any(string prefix) => shapes.Keys.Any(k => k.StartsWith(prefix, StringComparison.Ordinal));
        if (!shapes.TryGetValue(ConvIn, out var convIn) || convIn.Length != 4)
        {
            var hint = Any("model.diffusion_model") ? "" : Any("down_blocks.") || Any("unet.") ? " (this looks like a diffusers-layout file: load its folder instead)" : "";
            throw new InvalidDataException($"Not a Stable Diffusion checkpoint in the original (LDM) layout: it has no '{ConvIn}' convolution{hint}.");
        }
        var inpainting = convIn[1] == 9;

        if (Any(XlText2Prefix) || (Any(XlTextPrefix) && Any(UNetPrefix + "label_emb.")))
            return inpainting ? ModelFamily.StableDiffusionXLInpainting : ModelFamily.StableDiffusionXL;
        if (Any(RefinerText2Prefix))
            return ModelFamily.StableDiffusionXLRefiner;
        if (Any(Sd2TextPrefix))
            return inpainting ? ModelFamily.StableDiffusion2Inpainting : ModelFamily.StableDiffusion2;
        if (Any(Sd1TextPrefix))
            return inpainting ? ModelFamily.StableDiffusion1Inpainting : ModelFamily.StableDiffusion1;

        // No text encoder: decide from the UNet alone.
        if (Any(UNetPrefix + "label_emb."))
            return inpainting ? ModelFamily.StableDiffusionXLInpainting : ModelFamily.StableDiffusionXL;
        var linearProjection = shapes.Any(p => p.Key.StartsWith(UNetPrefix, StringComparison.Ordinal) && p.Key.EndsWith(".proj_in.weight", StringComparison.Ordinal) && p.Value.Length == 2);
        var contextWidth = shapes.Where(p => p.Key.StartsWith(UNetPrefix, StringComparison.Ordinal) && p.Key.EndsWith(".attn2.to_k.weight", StringComparison.Ordinal))
            .Select(p => p.Value.Length == 2 ? p.Value[1] : 0).FirstOrDefault();
        if (linearProjection || contextWidth == 1024)
            return inpainting ? ModelFamily.StableDiffusion2Inpainting : ModelFamily.StableDiffusion2;
        return inpainting ? ModelFamily.StableDiffusion1Inpainting : ModelFamily.StableDiffusion1;
    }
}
