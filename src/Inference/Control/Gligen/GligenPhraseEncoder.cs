using Easel.Inference.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Control.Gligen;

/// <summary>
/// Turns a request's grounding into the position net's input as diffusers' StableDiffusionGLIGENPipeline does: the
/// phrases tokenized together padded to the longest (tokenizer(phrases, padding=True)), their pooled text-encoder
/// features (pooler_output), and boxes, features and masks padded to <see cref="GligenGrounding.MaxEntities"/> slots.
/// </summary>
public sealed class GligenPhraseEncoder(ClipTokenizer tokenizer, ClipTextModel textEncoder)
{
    /// <summary>One row (B = 1) of grounding, float32, on the text encoder's device.</summary>
    public GligenGroundingInput Encode(GligenGrounding grounding)
    {
        grounding.Validate();
        using var scope = torch.NewDisposeScope();
        var device = textEncoder.parameters().First().device;
        var hidden = textEncoder.Config.HiddenSize;
        var count = grounding.Phrases.Count;
        var boxes = torch.zeros(1, GligenGrounding.MaxEntities, 4);
        var masks = torch.zeros(1, GligenGrounding.MaxEntities);
        var phrases = torch.zeros(1, GligenGrounding.MaxEntities, hidden);
        if (count > 0)
        {
            boxes[0, TensorIndex.Slice(0, count)] = torch.tensor(grounding.Boxes.SelectMany(b => b).ToArray(), [count, 4]);
            masks[0, TensorIndex.Slice(0, count)] = torch.ones(count);
            phrases[0, TensorIndex.Slice(0, count)] = PooledFeatures(grounding.Phrases, device).cpu();
        }
        return new GligenGroundingInput(boxes.to(device).MoveToOuterDisposeScope(), masks.to(device).MoveToOuterDisposeScope(),
            phrases.to(device).MoveToOuterDisposeScope(), Beta: grounding.Beta);
    }

    // The attention mask diffusers passes along is not needed: CLIP's causal attention keeps the pooled (EOS) token
    // blind to the pad ids after it. Phrases longer than the model's 77 positions are truncated rather than refused.
    private Tensor PooledFeatures(IReadOnlyList<string> phrases, Device device)
    {
        var longest = phrases.Max(p => tokenizer.EncodeUntruncated(p).Count);
        var ids = tokenizer.EncodeBatch(phrases, Math.Min(longest, tokenizer.ModelMaxLength)).to(device);
        using var noGrad = torch.no_grad();
        using var output = textEncoder.forward(ids);
        return output.PoolerOutput.to(float32).clone();
    }
}
