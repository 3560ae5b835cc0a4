namespace Easel.Inference.Text;

/// <summary>
/// transformers' <c>CLIPTextConfig</c> as stored in a diffusers <c>text_encoder/config.json</c>; defaults are
/// transformers' (openai/clip-vit-base-patch32 text tower). Read it with <c>ConfigJson.Read&lt;ClipTextConfig&gt;</c>.
/// </summary>
public sealed record ClipTextConfig
{
    public int VocabSize { get; init; } = 49408;
    public int HiddenSize { get; init; } = 512;
    public int IntermediateSize { get; init; } = 2048;
    /// <summary>Output width of <c>text_projection</c> (CLIPTextModelWithProjection only).</summary>
    public int ProjectionDim { get; init; } = 512;
    public int NumHiddenLayers { get; init; } = 12;
    public int NumAttentionHeads { get; init; } = 8;
    public int MaxPositionEmbeddings { get; init; } = 77;
    /// <summary>MLP activation: "quick_gelu" (SD 1.x) or "gelu" (SD 2.x, SDXL's OpenCLIP-bigG encoder).</summary>
    public string HiddenAct { get; init; } = "quick_gelu";
    public double LayerNormEps { get; init; } = 1e-5;
    public double AttentionDropout { get; init; }
    public int PadTokenId { get; init; } = 1;
    public int BosTokenId { get; init; } = 49406;
    /// <summary>
    /// Selects the pooling position: 2 (the value kept by the real SD checkpoints) means the legacy
    /// argmax(input_ids) position; any other value means the first position holding this id.
    /// </summary>
    public int EosTokenId { get; init; } = 49407;
    public string? ModelType { get; init; }
    public IReadOnlyList<string>? Architectures { get; init; }
}
