namespace Easel.Inference.Pipelines;

/// <summary>How a pipeline is placed: device "auto" | "cpu" | "cuda[:N]", dtype "float32" | "bfloat16" | "float16".</summary>
/// <remarks>
/// In bfloat16/float16 the UNet and text encoders run in that dtype while latents and scheduler arithmetic stay in
/// float32; a VAE whose config sets force_upcast runs in float32.
/// </remarks>
public sealed record PipelineOptions(string Device = "auto", string DType = "float32")
{
    /// <summary>Attention backend of the UNet and VAE: "auto" (SDPA), "sdpa", or "explicit" (bmm/softmax, the golden-exact path).</summary>
    public string Attention { get; init; } = "auto";

    /// <summary>Decode (and encode) images larger than one VAE tile in overlapping, linearly blended tiles.</summary>
    public bool VaeTiling { get; init; }

    /// <summary>Tile side in pixels for <see cref="VaeTiling"/>; null uses the VAE config's sample_size (diffusers' default).</summary>
    public int? VaeTileSize { get; init; }

    /// <summary>Overlap between neighbouring tiles as a fraction of the tile (diffusers: 0.25).</summary>
    public double VaeTileOverlap { get; init; } = 0.25;

    /// <summary>Decode (and encode) a batch one image at a time.</summary>
    public bool VaeSlicing { get; init; }
}
