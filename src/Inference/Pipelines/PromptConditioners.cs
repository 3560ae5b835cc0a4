using Easel.Inference.Customization.TextualInversion;
using Easel.Inference.Models.UNet;
using Easel.Inference.Text;
using Easel.Inference.Text.Prompting;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Pipelines;

/// <summary>
/// The conditioning of one denoising run, batch-first with the unconditional half first when guidance is on:
/// cross-attention states (B, 77, D) and, for SDXL, the added text_time conditions.
/// </summary>
public sealed record PromptEmbeddings(Tensor HiddenStates, AddedConditions? Added) : IDisposable
{
    public UNetConditioning? UNetConditioning => Added is null ? null : new UNetConditioning(Added: Added);

    public void Dispose()
    {
        HiddenStates.Dispose();
        Added?.TextEmbeds.Dispose();
        Added?.TimeIds.Dispose();
    }
}

/// <summary>Turns a request's prompts into UNet conditioning: the one place a model family differs in the loop.</summary>
internal interface IPromptConditioner : IDisposable
{
    /// <param name="count">Images in the batch.</param>
    /// <param name="guidance">Whether to prepend the unconditional half.</param>
    /// <param name="height">Output height in pixels (SDXL size conditioning).</param>
    /// <param name="width">Output width in pixels.</param>
    PromptEmbeddings Encode(GenerationRequest request, int count, bool guidance, int height, int width);

    /// <summary>The tokenizer whose token positions the cross-attention keys follow (SDXL's two share one vocabulary).</summary>
    ClipTokenizer Tokenizer { get; }
}

/// <summary>
/// SD 1.x / 2.x: one CLIP text encoder, its final (layer-normed) hidden states. Prompts go through the
/// <see cref="PromptEncoder"/>: A1111 emphasis weights and 75-token windows for long prompts, the negative
/// prompt padded to the same number of windows.
/// </summary>
internal sealed class ClipPromptConditioner(ClipTokenizer tokenizer, ClipTextModel textEncoder, ScalarType dtype) : IPromptConditioner
{
    private readonly PromptEncoder _encoder = new(TextEncoderBranch.Create(tokenizer, textEncoder));

    /// <summary>The cached tokenizer (trainers build their captions' ids with it).</summary>
    public ClipTokenizer Tokenizer => tokenizer;

    /// <summary>The cached text encoder; trainers keep it frozen.</summary>
    public ClipTextModel TextEncoder => textEncoder;

    public PromptEmbeddings Encode(GenerationRequest request, int count, bool guidance, int height, int width)
    {
        using var scope = torch.NewDisposeScope();
        var encoder = RequestEncoder.For(_encoder, request, [TextualInversionEmbedding.TextEncoder]);
        if (!guidance)
        {
            using var conditional = encoder.Encode(request.Prompt, count);
            return new PromptEmbeddings(conditional.Embeddings.to(dtype).alias().MoveToOuterDisposeScope(), null); // (N, 77·k, D)
        }
        using var pair = encoder.EncodeForGuidance(request.Prompt, request.NegativePrompt, count);
        var embeds = torch.cat([pair.Negative.Embeddings, pair.Conditional.Embeddings], 0); // (2N, 77·k, D)
        return new PromptEmbeddings(embeds.to(dtype).MoveToOuterDisposeScope(), null);
    }

    public void Dispose() => textEncoder.Dispose();
}

/// <summary>
/// SDXL (Podell et al. 2023): the penultimate hidden states of both text encoders concatenated along the
/// feature axis, the second encoder's projected pooled output, and the size/crop (or aesthetic-score) time ids.
/// A refiner has only the second encoder.
/// </summary>
internal sealed class SdxlPromptConditioner : IPromptConditioner
{
    private readonly ClipTextModel? _textEncoder;
    private readonly ClipTextModelWithProjection _textEncoder2;
    private readonly Device _device;
    private readonly ScalarType _dtype;
    private readonly bool _forceZerosForEmptyPrompt;
    private readonly bool _requiresAestheticsScore;
    private readonly PromptEncoder _encoder;

    public ClipTokenizer Tokenizer { get; }

    public SdxlPromptConditioner(ClipTokenizer? tokenizer, ClipTextModel? textEncoder, ClipTokenizer tokenizer2,
        ClipTextModelWithProjection textEncoder2, Device device, ScalarType dtype, bool forceZerosForEmptyPrompt, bool requiresAestheticsScore)
    {
        _textEncoder = textEncoder;
        _textEncoder2 = textEncoder2;
        _device = device;
        _dtype = dtype;
        _forceZerosForEmptyPrompt = forceZerosForEmptyPrompt;
        _requiresAestheticsScore = requiresAestheticsScore;
        Tokenizer = tokenizer ?? tokenizer2;
        var second = TextEncoderBranch.Create(tokenizer2, textEncoder2, ClipLayer.Penultimate);
        _encoder = tokenizer is not null && textEncoder is not null
            ? new PromptEncoder(TextEncoderBranch.Create(tokenizer, textEncoder, ClipLayer.Penultimate), second)
            : new PromptEncoder(second);
    }

    /// <summary>The first text encoder (null for a refiner).</summary>
    public ClipTextModel? TextEncoder => _textEncoder;

    public ClipTextModelWithProjection TextEncoder2 => _textEncoder2;

    /// <summary>Numbers in add_time_ids: 6 (sizes + crop + target) or 5 (sizes + crop + aesthetic score).</summary>
    public int TimeIdCount => _requiresAestheticsScore ? 5 : 6;

    public PromptEmbeddings Encode(GenerationRequest request, int count, bool guidance, int height, int width)
    {
        using var scope = torch.NewDisposeScope();
        var micro = request.Micro ?? new MicroConditioning();
        var timeIds = TimeIds(micro, height, width, micro.AestheticScore).repeat(count, 1); // (N, k)
        var negative2 = request.NegativePrompt2 ?? request.NegativePrompt;
        var encoder = RequestEncoder.For(_encoder, request,
            HasFirstEncoder ? [TextualInversionEmbedding.TextEncoder, TextualInversionEmbedding.TextEncoder2] : [TextualInversionEmbedding.TextEncoder2]);
        Tensor embeds, pooled;
        if (!guidance || (_forceZerosForEmptyPrompt && string.IsNullOrEmpty(request.NegativePrompt) && string.IsNullOrEmpty(negative2)))
        {
            using var conditional = EncodeOne(encoder, request.Prompt, request.Prompt2, count);
            embeds = conditional.Embeddings.alias(); // (N, 77·k, D1+D2)
            pooled = conditional.Pooled.alias(); // (N, P)
            if (guidance)
            {
                embeds = torch.cat([torch.zeros_like(embeds), embeds], 0);
                pooled = torch.cat([torch.zeros_like(pooled), pooled], 0);
            }
        }
        else
        {
            using var pair = HasFirstEncoder
                ? encoder.EncodeForGuidance(request.Prompt, request.NegativePrompt, count, request.Prompt2, negative2)
                : encoder.EncodeForGuidance(request.Prompt2 ?? request.Prompt, negative2, count);
            embeds = torch.cat([pair.Negative.Embeddings, pair.Conditional.Embeddings], 0); // (2N, 77·k, D1+D2)
            pooled = torch.cat([pair.Negative.Pooled, pair.Conditional.Pooled], 0); // (2N, P)
        }
        if (guidance)
            timeIds = torch.cat([TimeIds(micro, height, width, micro.NegativeAestheticScore).repeat(count, 1), timeIds], 0); // (2N, k)
        var added = new AddedConditions(pooled.to(_dtype).MoveToOuterDisposeScope(), timeIds.to(_dtype).MoveToOuterDisposeScope());
        return new PromptEmbeddings(embeds.to(_dtype).MoveToOuterDisposeScope(), added);
    }

    private bool HasFirstEncoder => _textEncoder is not null;

    /// <summary>One prompt through both encoders (a refiner: the second only, with the second prompt).</summary>
    private Text.Prompting.PromptEmbeddings EncodeOne(PromptEncoder encoder, string prompt, string? prompt2, int count) =>
        HasFirstEncoder ? encoder.Encode(prompt, count, prompt2) : encoder.Encode(prompt2 ?? prompt, count);

    private Tensor TimeIds(MicroConditioning micro, int height, int width, double aestheticScore)
    {
        var original = micro.OriginalSize ?? (height, width);
        var target = micro.TargetSize ?? (height, width);
        var crop = micro.CropsCoordsTopLeft;
        float[] ids = _requiresAestheticsScore
            ? [original.Height, original.Width, crop.Top, crop.Left, (float)aestheticScore]
            : [original.Height, original.Width, crop.Top, crop.Left, target.Height, target.Width];
        return torch.tensor(ids, [1, ids.Length], dtype: float32, device: _device);
    }

    public void Dispose()
    {
        _textEncoder?.Dispose();
        _textEncoder2.Dispose();
    }
}
