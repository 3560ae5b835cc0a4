using static TorchSharp.torch;

namespace Easel.Inference.Models.UNet;

/// <summary>
/// Optional extra inputs of <see cref="UNet2DConditionModel"/>: ControlNet residuals, T2I-Adapter
/// features and SDXL's added conditions. Any of them may be null.
/// </summary>
/// <param name="Control">ControlNet residuals (down_block_additional_residuals + mid_block_additional_residual).</param>
/// <param name="DownIntrablockResiduals">T2I-Adapter features (down_intrablock_additional_residuals), one per down block
/// (coarsest last); a remaining feature shaped like the mid-block output is added there (T2I-Adapter-XL).</param>
/// <param name="Added">SDXL text_time conditions (added_cond_kwargs).</param>
public sealed record UNetConditioning(
    ControlResiduals? Control = null,
    IReadOnlyList<Tensor>? DownIntrablockResiduals = null,
    AddedConditions? Added = null);

/// <summary>ControlNet outputs, already multiplied by the conditioning scale.</summary>
/// <param name="DownBlockResiduals">One per skip connection of the down path (conv_in output first).</param>
/// <param name="MidBlockResidual">Added to the mid-block output.</param>
public sealed record ControlResiduals(IReadOnlyList<Tensor> DownBlockResiduals, Tensor MidBlockResidual);

/// <summary>SDXL micro-conditioning (addition_embed_type "text_time").</summary>
/// <param name="TextEmbeds">(B, pooled_dim) pooled text embedding of the second text encoder.</param>
/// <param name="TimeIds">(B, 6) original size, crop top-left, target size.</param>
public sealed record AddedConditions(Tensor TextEmbeds, Tensor TimeIds);
