using Easel.Inference.Models;
using Easel.Inference.Models.UNet;
using Easel.Inference.Pipelines.Denoising;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Guidance.StructuredDiffusion;

/// <summary>
/// Structured Diffusion Guidance (Feng et al. 2023, §3.2, the "multiple values" form) on the denoising seam: the prompt
/// and each noun phrase are encoded separately; each phrase encoding W_j is the prompt's with the tokens of its span
/// replaced by the phrase's own (contextualised only by the phrase). In every cross-attention layer the keys come from
/// the whole prompt, and the conditional output is (1/(k+1))·Σ_j softmax(QKᵀ/√d)·V_j over the prompt's values and the
/// k phrases' — the attention map binds, the values carry each phrase's attributes to its own noun.
/// </summary>
/// <param name="phrases">The prompt's noun phrases (<see cref="PhraseSpan.Resolve"/>).</param>
/// <param name="stepsFraction">Applies on the first ⌊fraction·steps⌋ steps (1 = all).</param>
public sealed class StructuredDiffusionExtension(IReadOnlyList<PhraseSpan> phrases, double stepsFraction = 1.0)
    : IUNetConditioningContributor, IAttentionProcessorProvider, IStepCallback
{
    private PhraseEncodings? _encodings;

    public IReadOnlyList<PhraseSpan> Phrases => phrases;

    public IAttentionProcessor ProcessorFor(Attention attention, IAttentionProcessor installed) =>
        attention.IsCrossAttention ? new MultipleValuesProcessor(installed) : installed;

    public UNetConditioning Contribute(DenoisingStep step, Tensor modelInput, UNetConditioning conditioning)
    {
        if (phrases.Count == 0 || step.Index >= (int)(stepsFraction * step.TotalSteps))
            return conditioning;
        _encodings ??= Encode(step);
        return conditioning with { Attention = (conditioning.Attention ?? step.Attention).With(_encodings) };
    }

    /// <summary>The encodings live from the first step to the last one that uses them.</summary>
    public void OnStepEnd(DenoisingStep step, Tensor latents)
    {
        if (_encodings is null || step.Index + 1 < Math.Min(step.TotalSteps, (int)(stepsFraction * step.TotalSteps)))
            return;
        _encodings.Aligned.Dispose();
        _encodings = null;
    }

    /// <summary>W_1 … W_k: (k, L, D), each the prompt's conditional states with the phrase's span replaced.</summary>
    private PhraseEncodings Encode(DenoisingStep step)
    {
        using var scope = torch.NewDisposeScope();
        var states = step.Prompt.HiddenStates; // (B, L, D)
        var whole = step.Guidance ? states[(int)(states.shape[0] / 2)] : states[0]; // (L, D): the first conditional row
        var aligned = phrases.Select(phrase =>
        {
            using var encoded = step.EncodeText(phrase.Text); // (1, L', D)
            var count = Math.Min(phrase.Positions.Count, (int)encoded.shape[1] - 2);
            var replaced = whole.clone();
            var positions = torch.tensor(phrase.Positions.Take(count).Select(p => (long)p).ToArray(), device: whole.device);
            replaced.index_copy_(0, positions, encoded[0, 1..(1 + count)].to(whole.dtype));
            return replaced;
        }).ToArray();
        return new PhraseEncodings(torch.stack(aligned, 0).DetachFromDisposeScope(), step.Guidance);
    }
}

/// <summary>The phrase encodings W_j of a request (k, L, D) and whether the batch's first half is unconditional.</summary>
internal sealed record PhraseEncodings(Tensor Aligned, bool Guidance);

/// <summary>
/// Cross-attention whose conditional rows average the values of the prompt and of every phrase encoding under the
/// prompt's attention map; the unconditional rows, and calls without phrase encodings, run the processor it replaced.
/// </summary>
internal sealed class MultipleValuesProcessor(IAttentionProcessor installed) : IAttentionProcessor
{
    public Tensor Process(Attention attention, Tensor hiddenStates, Tensor? encoderHiddenStates, Tensor? attentionMask, AttentionContext? context)
    {
        if (encoderHiddenStates is null || hiddenStates.dim() != 3 || context?.Get<PhraseEncodings>() is not { } phrases)
            return installed.Process(attention, hiddenStates, encoderHiddenStates, attentionMask, context);
        using var scope = torch.NewDisposeScope();
        var residual = hiddenStates;
        var x = hiddenStates;
        if (attention.GroupNormModule is { } groupNorm)
            x = groupNorm.call(x.transpose(1, 2)).transpose(1, 2);
        var query = attention.HeadToBatchDim(attention.ToQ.call(x)); // (B·h, N, d)
        var key = attention.HeadToBatchDim(attention.ToK.call(encoderHiddenStates)); // (B·h, L, d)
        var value = attention.ToV.call(encoderHiddenStates); // (B, L, inner)
        var rows = value.shape[0];
        var first = phrases.Guidance ? rows / 2 : 0;
        var aligned = phrases.Aligned.to(encoderHiddenStates.dtype).to(encoderHiddenStates.device);
        var phraseValues = attention.ToV.call(aligned).sum(dim: 0L, keepdim: true); // (1, L, inner): Σ_j V_j
        var conditional = (value[(int)first..] + phraseValues) / (aligned.shape[0] + 1);
        value = first == 0 ? conditional : torch.cat([value[..(int)first], conditional], 0);
        var probs = attention.GetAttentionScores(query, key, attentionMask); // (B·h, N, L)
        var output = attention.OutputProjection(attention.BatchToHeadDim(torch.bmm(probs, attention.HeadToBatchDim(value))));
        if (attention.ResidualConnection)
            output = output + residual;
        if (attention.RescaleOutputFactor != 1.0)
            output = output / attention.RescaleOutputFactor;
        return output.MoveToOuterDisposeScope();
    }
}
