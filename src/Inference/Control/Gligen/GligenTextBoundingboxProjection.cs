using Easel.Inference.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Control.Gligen;

/// <summary>
/// GLIGEN's position net (diffusers' GLIGENTextBoundingboxProjection, key unet.position_net): grounding token
/// h_e = MLP([f_text, Fourier(box)]) per entity (paper eq. 5), with learned null features in place of padded
/// entities; text-image grounding adds a second MLP on image features and concatenates both token sets.
/// </summary>
public sealed class GligenTextBoundingboxProjection : nn.Module<GligenGroundingInput, Tensor>
{
    /// <summary>Fourier frequencies per box coordinate.</summary>
    public const int FourierFrequencies = 8;

    private const long PositionDim = FourierFrequencies * 2 * 4;
    private const long HiddenDim = 512;

#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly Sequential? linears;
    private readonly Sequential? linears_text;
    private readonly Sequential? linears_image;
    private readonly Parameter? null_positive_feature;
    private readonly Parameter? null_text_feature;
    private readonly Parameter? null_image_feature;
    private readonly Parameter null_position_feature;
#pragma warning restore IDE1006

    /// <param name="positiveLen">Width of the phrase (and image) features.</param>
    /// <param name="outDim">Grounding token width (the UNet's cross_attention_dim).</param>
    /// <param name="textImage">True for feature_type text-image (attention_type gated-text-image).</param>
    public GligenTextBoundingboxProjection(long positiveLen, long outDim, bool textImage, string name = "position_net") : base(name)
    {
        IsTextImage = textImage;
        if (textImage)
        {
            linears_text = Mlp(positiveLen, outDim);
            linears_image = Mlp(positiveLen, outDim);
            null_text_feature = nn.Parameter(torch.zeros(positiveLen));
            null_image_feature = nn.Parameter(torch.zeros(positiveLen));
        }
        else
        {
            linears = Mlp(positiveLen, outDim);
            null_positive_feature = nn.Parameter(torch.zeros(positiveLen));
        }
        null_position_feature = nn.Parameter(torch.zeros(PositionDim));
        RegisterComponents();
    }

    public bool IsTextImage { get; }

    /// <summary>Grounding tokens (B, N, outDim) for text, (B, 2N, outDim) for text-image (phrase tokens first).</summary>
    public override Tensor forward(GligenGroundingInput input)
    {
        using var scope = torch.NewDisposeScope();
        var position = WithNull(FourierEmbedding(input.Boxes), input.Masks, null_position_feature); // (B, N, 64)
        Tensor objects;
        if (IsTextImage)
        {
            var phrases = WithNull(input.PhraseEmbeddings, input.PhraseMasks ?? input.Masks, null_text_feature!);
            var images = WithNull(input.ImageEmbeddings ?? throw new ArgumentException("Text-image grounding needs image embeddings."),
                input.ImageMasks ?? throw new ArgumentException("Text-image grounding needs image masks."), null_image_feature!);
            objects = torch.cat([linears_text!.call(torch.cat([phrases, position], -1)), linears_image!.call(torch.cat([images, position], -1))], 1);
        }
        else
        {
            var phrases = WithNull(input.PhraseEmbeddings, input.Masks, null_positive_feature!);
            objects = linears!.call(torch.cat([phrases, position], -1)); // (B, N, outDim)
        }
        return objects.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Per coordinate c and frequency k = 0..F−1: sin and cos of c·100^(k/F), laid out (B, N, F·2·4) frequency-major
    /// as diffusers' get_fourier_embeds_from_boundingbox.
    /// </summary>
    public static Tensor FourierEmbedding(Tensor boxes)
    {
        using var scope = torch.NewDisposeScope();
        var (batch, entities) = (boxes.shape[0], boxes.shape[1]);
        var frequencies = torch.pow(100.0, torch.arange(FourierFrequencies, dtype: ScalarType.Float32) / FourierFrequencies)
            .to(boxes.dtype, boxes.device); // (F)
        var angles = boxes.unsqueeze(-1) * frequencies; // (B, N, 4, F)
        var embedding = torch.stack([angles.sin(), angles.cos()], -1) // (B, N, 4, F, 2)
            .permute(0, 1, 3, 4, 2).reshape(batch, entities, PositionDim);
        return embedding.MoveToOuterDisposeScope();
    }

    private static Tensor WithNull(Tensor features, Tensor masks, Tensor nullFeature)
    {
        var m = masks.unsqueeze(-1).to(features.dtype); // (B, N, 1)
        return features * m + (1 - m) * nullFeature.view(1, 1, -1);
    }

    private static Sequential Mlp(long inDim, long outDim) => nn.Sequential(
        ("0", Layers.Linear(inDim + PositionDim, HiddenDim)), ("1", nn.SiLU()),
        ("2", Layers.Linear(HiddenDim, HiddenDim)), ("3", nn.SiLU()),
        ("4", Layers.Linear(HiddenDim, outDim)));
}
