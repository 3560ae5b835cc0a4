using static TorchSharp.torch;

namespace Easel.Inference.Control.Gligen;

/// <summary>
/// What the UNet's position net grounds on (diffusers' cross_attention_kwargs["gligen"] before the position net):
/// per entity a box and its phrase (and, for text-image grounding, image) features; padding entities have mask 0
/// and are replaced by the learned null features.
/// </summary>
/// <param name="Boxes">(B, N, 4) [x0, y0, x1, y1] fractions of the image.</param>
/// <param name="Masks">(B, N) 1 for a real entity, 0 for padding.</param>
/// <param name="PhraseEmbeddings">(B, N, positive_len) pooled text-encoder features of the phrases.</param>
/// <param name="PhraseMasks">(B, N) text-image only: 1 where the entity has a phrase.</param>
/// <param name="ImageEmbeddings">(B, N, positive_len) text-image only: projected CLIP image features.</param>
/// <param name="ImageMasks">(B, N) text-image only: 1 where the entity has an image.</param>
/// <param name="Beta">Scheduled sampling β (see <see cref="GligenGroundingTokens.ActiveAt"/>).</param>
public sealed record GligenGroundingInput(
    Tensor Boxes,
    Tensor Masks,
    Tensor PhraseEmbeddings,
    Tensor? PhraseMasks = null,
    Tensor? ImageEmbeddings = null,
    Tensor? ImageMasks = null,
    double Beta = 1.0);
