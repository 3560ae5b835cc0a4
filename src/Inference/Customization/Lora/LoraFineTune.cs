using Easel.Inference.Pipelines;

namespace Easel.Inference.Customization.Lora;

/// <summary>
/// LoRA fine-tuning (Hu et al. 2021): low-rank updates ΔW = (α/r)·B·A beside the chosen layers of the frozen model, trained
/// with the diffusion loss, as diffusers' train_text_to_image_lora.py does with PEFT. Parameters:
/// <list type="bullet">
/// <item><c>rank</c> (integer ≥ 1, default 4): r;</item>
/// <item><c>alpha</c> (number &gt; 0, default = rank): α, so the default update is B·A unscaled;</item>
/// <item><c>target_modules</c> (names, default <c>to_q, to_k, to_v, to_out.0</c>): the UNet layers whose module path ends
/// with one of them (all its attention projections by default); a name prefixed <c>text_encoder.</c> targets the text
/// encoder's (e.g. <c>text_encoder.q_proj</c>, as diffusers' <c>--train_text_encoder</c> does for q/k/v/out_proj).</item>
/// </list>
/// The artifact is a diffusers-layout <c>pytorch_lora_weights.safetensors</c>.
/// </summary>
public sealed class LoraFineTune : IFineTuneMethod
{
    public const string MethodName = "lora";

    public string Name => MethodName;

    /// <exception cref="ArgumentException">A parameter or setting the run cannot use (names it).</exception>
    /// <exception cref="NotSupportedException">An SDXL pipeline.</exception>
    public IFineTuneRun Start(StableDiffusionPipeline pipeline, FineTuneSettings settings)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(settings);
        return new LoraFineTuneRun(pipeline, settings);
    }
}
