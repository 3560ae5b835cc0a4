using Easel.Inference.Models.UNet;
using Easel.Inference.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Pipelines;

/// <summary>
/// The conditioning of one denoising run, batch-first with the unconditional half first when guidance is on:
/// cross-attention states (B, 77, D) and, for SDXL, the added text_time conditions.
/// </summary>
internal sealed record PromptEmbeddings(Tensor HiddenStates, AddedConditions? Added) : IDisposable
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
}

/// <summary>SD 1.x / 2.x: one CLIP text encoder, its final (layer-normed) hidden states.</summary>
internal sealed class ClipPromptConditioner(ClipTokenizer tokenizer, ClipTextModel textEncoder, Device device, ScalarType dtype) : IPromptConditioner
{
    public PromptEmbeddings Encode(GenerationRequest request, int count, bool guidance, int height, int width)
    {
        using var scope = torch.NewDisposeScope();
        var embeds = EncodeText(request.Prompt).repeat(count, 1, 1); // (N, 77, D)
        if (guidance)
            embeds = torch.cat([EncodeText(request.NegativePrompt).repeat(count, 1, 1), embeds], 0); // (2N, 77, D)
        return new PromptEmbeddings(embeds.to(dtype).MoveToOuterDisposeScope(), null);
    }

    /// <summary>The one place text becomes embeddings (long prompts and emphasis will plug in here).</summary>
    private Tensor EncodeText(string text)
    {
        using var scope = torch.NewDisposeScope();
        var ids = tokenizer.Encode(text).InputIds.ToArray();
        var inputIds = torch.tensor(ids, [1, ids.Length], dtype: int64, device: device);
        using var output = textEncoder.forward(inputIds);
        return output.LastHiddenState.alias().MoveToOuterDisposeScope(); // (1, 77, D)
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
    private readonly ClipTokenizer? _tokenizer;
    private readonly ClipTextModel? _textEncoder;
    private readonly ClipTokenizer _tokenizer2;
    private readonly ClipTextModelWithProjection _textEncoder2;
    private readonly Device _device;
    private readonly ScalarType _dtype;
    private readonly bool _forceZerosForEmptyPrompt;
    private readonly bool _requiresAestheticsScore;

    public SdxlPromptConditioner(ClipTokenizer? tokenizer, ClipTextModel? textEncoder, ClipTokenizer tokenizer2,
        ClipTextModelWithProjection textEncoder2, Device device, ScalarType dtype, bool forceZerosForEmptyPrompt, bool requiresAestheticsScore)
    {
        _tokenizer = tokenizer;
        _textEncoder = textEncoder;
        _tokenizer2 = tokenizer2;
        _textEncoder2 = textEncoder2;
        _device = device;
        _dtype = dtype;
        _forceZerosForEmptyPrompt = forceZerosForEmptyPrompt;
        _requiresAestheticsScore = requiresAestheticsScore;
    }

    /// <summary>Numbers in add_time_ids: 6 (sizes + crop + target) or 5 (sizes + crop + aesthetic score).</summary>
    public int TimeIdCount => _requiresAestheticsScore ? 5 : 6;

    public PromptEmbeddings Encode(GenerationRequest request, int count, bool guidance, int height, int width)
    {
        using var scope = torch.NewDisposeScope();
        var (embeds, pooled) = EncodeBoth(request.Prompt, request.Prompt2 ?? request.Prompt); // (1, 77, D1+D2), (1, P)
        var micro = request.Micro ?? new MicroConditioning();
        var timeIds = TimeIds(micro, height, width, micro.AestheticScore); // (1, k)
        embeds = embeds.repeat(count, 1, 1);
        pooled = pooled.repeat(count, 1);
        timeIds = timeIds.repeat(count, 1);
        if (guidance)
        {
            var negative2 = request.NegativePrompt2 ?? request.NegativePrompt;
            Tensor negEmbeds, negPooled;
            if (_forceZerosForEmptyPrompt && string.IsNullOrEmpty(request.NegativePrompt) && string.IsNullOrEmpty(negative2))
            {
                negEmbeds = torch.zeros_like(embeds);
                negPooled = torch.zeros_like(pooled);
            }
            else
            {
                (negEmbeds, negPooled) = EncodeBoth(request.NegativePrompt, negative2);
                negEmbeds = negEmbeds.repeat(count, 1, 1);
                negPooled = negPooled.repeat(count, 1);
            }
            var negTimeIds = TimeIds(micro, height, width, micro.NegativeAestheticScore).repeat(count, 1);
            embeds = torch.cat([negEmbeds, embeds], 0); // (2N, 77, D1+D2)
            pooled = torch.cat([negPooled, pooled], 0); // (2N, P)
            timeIds = torch.cat([negTimeIds, timeIds], 0); // (2N, k)
        }
        var added = new AddedConditions(pooled.to(_dtype).MoveToOuterDisposeScope(), timeIds.to(_dtype).MoveToOuterDisposeScope());
        return new PromptEmbeddings(embeds.to(_dtype).MoveToOuterDisposeScope(), added);
    }

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

    /// <summary>Penultimate states of each encoder, concatenated (1, 77, D1+D2), and encoder 2's text_embeds (1, P).</summary>
    private (Tensor Embeds, Tensor Pooled) EncodeBoth(string prompt, string prompt2)
    {
        var states = new List<Tensor>(2);
        if (_tokenizer is not null && _textEncoder is not null)
        {
            using var output = _textEncoder.forward(Tokens(_tokenizer, prompt));
            states.Add(output.PenultimateHiddenState.alias());
        }
        using var output2 = _textEncoder2.forward(Tokens(_tokenizer2, prompt2));
        states.Add(output2.PenultimateHiddenState.alias());
        var pooled = output2.TextEmbeds!.alias();
        return (torch.cat(states, -1), pooled);
    }

    /// <summary>The one place text becomes token ids (long prompts and emphasis will plug in here).</summary>
    private Tensor Tokens(ClipTokenizer tokenizer, string text)
    {
        var ids = tokenizer.Encode(text).InputIds.ToArray();
        return torch.tensor(ids, [1, ids.Length], dtype: int64, device: _device);
    }

    public void Dispose()
    {
        _textEncoder?.Dispose();
        _textEncoder2.Dispose();
    }
}
