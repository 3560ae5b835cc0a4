using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Models;

/// <summary>
/// Attention through libtorch's fused <c>scaled_dot_product_attention</c> (diffusers' <c>AttnProcessor2_0</c>):
/// on the CPU it runs the flash-attention kernel, which never materialises the (B·h, N, M) probability matrix.
/// It cannot expose attention maps; processors that read or edit them derive from <see cref="AttnProcessor"/>
/// (the explicit bmm/softmax path) and are installed through the same <see cref="Attention.Processor"/> seam.
/// upcast_attention is kept: when the module asks for it, Q, K and V are taken to float32 for the fused call and
/// the result is cast back (diffusers' AttnProcessor2_0 silently ignores the flag; the explicit path honours it).
/// </summary>
public sealed class SdpaAttnProcessor : IAttentionProcessor
{
    public static readonly SdpaAttnProcessor Instance = new();

    public Tensor Process(Attention attention, Tensor hiddenStates, Tensor? encoderHiddenStates, Tensor? attentionMask, AttentionContext? context)
    {
        using var scope = torch.NewDisposeScope();
        var residual = hiddenStates;
        var spatial = hiddenStates.dim() == 4;
        long batch = 0, channels = 0, height = 0, width = 0;
        var x = hiddenStates;
        if (spatial)
        {
            (batch, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
            x = x.view(batch, channels, height * width).transpose(1, 2); // (B, HW, C)
        }
        if (attention.GroupNormModule is { } groupNorm)
            x = groupNorm.call(x.transpose(1, 2)).transpose(1, 2); // (B, N, C)

        var b = x.shape[0];
        var heads = attention.Heads;
        var query = attention.ToQ.call(x); // (B, N, inner)
        var keyValueSource = encoderHiddenStates ?? x; // (B, M, C')
        var key = attention.ToK.call(keyValueSource); // (B, M, inner)
        var value = attention.ToV.call(keyValueSource); // (B, M, inner)
        var inner = key.shape[2];
        var headDim = inner / heads;
        Tensor Heads(Tensor t) => t.view(b, -1, heads, headDim).transpose(1, 2); // (B, h, N|M, d)
        query = Heads(query);
        key = Heads(key);
        value = Heads(value);

        var dtype = query.dtype;
        if (attention.UpcastAttention || attention.UpcastSoftmax)
        {
            query = query.to(ScalarType.Float32);
            key = key.to(ScalarType.Float32);
            value = value.to(ScalarType.Float32);
        }
        Tensor? mask = null;
        if (attentionMask is not null)
        {
            // The seam's mask is an additive bias broadcastable to (B·h, N, M); SDPA wants (B, h, N, M).
            mask = attentionMask.dim() == 3 && attentionMask.shape[0] == b * heads
                ? attentionMask.view(b, heads, attentionMask.shape[1], attentionMask.shape[2])
                : attentionMask.dim() == 3 ? attentionMask.unsqueeze(1) : attentionMask;
            mask = mask.to(query.dtype);
        }
        // The default scale of SDPA is 1/√d, which is Attention.Scale (dim_head^-0.5).
        var output = nn.functional.scaled_dot_product_attention(query, key, value, mask); // (B, h, N, d)
        output = output.to(dtype).transpose(1, 2).reshape(b, -1, heads * headDim); // (B, N, inner)
        output = attention.OutputProjection(output); // (B, N, C)

        if (spatial)
            output = output.transpose(-1, -2).reshape(batch, channels, height, width); // (B, C, H, W)
        if (attention.ResidualConnection)
            output = output + residual;
        if (attention.RescaleOutputFactor != 1.0)
            output = output / attention.RescaleOutputFactor;
        return output.MoveToOuterDisposeScope();
    }
}

/// <summary>Which attention processor a model runs with: "auto", "sdpa" or "explicit".</summary>
public static class AttentionProcessors
{
    /// <summary>
    /// The processor for a backend name. "auto" picks SDPA: on this machine it is at least as fast as the explicit
    /// path in float32 and bfloat16 and stays within the parity tolerances (see docs/perf notes and the SDPA parity tests).
    /// </summary>
    public static IAttentionProcessor For(string backend) => backend.Trim().ToLowerInvariant() switch
    {
        "auto" or "sdpa" => SdpaAttnProcessor.Instance,
        "explicit" or "default" => AttnProcessor.Instance,
        _ => throw new ArgumentException($"Unknown attention backend '{backend}'; use auto, sdpa or explicit.", nameof(backend)),
    };
}
