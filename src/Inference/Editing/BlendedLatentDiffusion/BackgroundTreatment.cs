namespace Easel.Inference.Editing.BlendedLatentDiffusion;

/// <summary>What happens outside the mask after decoding (the request's <c>background</c>).</summary>
public enum BackgroundTreatment
{
    /// <summary>The input's pixels are put back outside the feathered mask (<see cref="PixelBlend"/>).</summary>
    PixelBlend,

    /// <summary>The paper's per-image fine-tune of the decoder, so that the decoded background matches the input (<see cref="DecoderOptimization"/>).</summary>
    DecoderOptimization,

    /// <summary>The decoded latents as they are: the background is the VAE's reconstruction of the input.</summary>
    None,
}
