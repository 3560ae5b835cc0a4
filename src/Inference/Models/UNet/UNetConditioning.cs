using static TorchSharp.torch;

namespace Easel.Inference.Models.UNet;

/// <summary>
/// Optional extra inputs of <see cref="UNet2DConditionModel"/>: ControlNet residuals, T2I-Adapter
/// features, SDXL's added conditions and the attention context. Any of them may be null.
/// </summary>
/// <param name="Control">ControlNet residuals (down_block_additional_residuals + mid_block_additional_residual).</param>
/// <param name="DownIntrablockResiduals">T2I-Adapter features (down_intrablock_additional_residuals), one per down block
/// (coarsest last); a remaining feature shaped like the mid-block output is added there (T2I-Adapter-XL).</param>
/// <param name="Added">SDXL text_time conditions (added_cond_kwargs).</param>
/// <param name="Attention">The step and request inputs every attention processor and grounding layer of the call sees
/// (diffusers' cross_attention_kwargs).</param>
public sealed record UNetConditioning(
    ControlResiduals? Control = null,
    IReadOnlyList<Tensor>? DownIntrablockResiduals = null,
    AddedConditions? Added = null,
    AttentionContext? Attention = null)
{
    /// <summary>
    /// The conditioning of the batch rows <paramref name="rows"/> (a 1-D int64 index): every per-row tensor is sliced, a
    /// tensor with one row for the whole batch is kept as it is.
    /// </summary>
    public UNetConditioning Rows(Tensor rows)
    {
        var count = rows.shape[0];
        Tensor Slice(Tensor x) => x.shape[0] == 1 && count != 1 ? x : x.index_select(0, rows.to(x.device));
        return new UNetConditioning(
            Control is null ? null : new ControlResiduals(Control.DownBlockResiduals.Select(Slice).ToList(), Slice(Control.MidBlockResidual)),
            DownIntrablockResiduals?.Select(Slice).ToList(),
            Added is null ? null : new AddedConditions(Slice(Added.TextEmbeds), Slice(Added.TimeIds)),
            Attention);
    }
}

/// <summary>ControlNet outputs, already multiplied by the conditioning scale.</summary>
/// <param name="DownBlockResiduals">One per skip connection of the down path (conv_in output first).</param>
/// <param name="MidBlockResidual">Added to the mid-block output.</param>
public sealed record ControlResiduals(IReadOnlyList<Tensor> DownBlockResiduals, Tensor MidBlockResidual);

/// <summary>SDXL micro-conditioning (addition_embed_type "text_time").</summary>
/// <param name="TextEmbeds">(B, pooled_dim) pooled text embedding of the second text encoder.</param>
/// <param name="TimeIds">(B, 6) original size, crop top-left, target size.</param>
public sealed record AddedConditions(Tensor TextEmbeds, Tensor TimeIds);
