namespace Easel.Inference.Customization.Lora;

/// <summary>The key layouts of LoRA safetensors files.</summary>
public enum LoraFormat
{
    /// <summary>kohya sd-scripts: <c>lora_unet_…</c> / <c>lora_te_…</c> (<c>lora_te1_…</c>, <c>lora_te2_…</c> for SDXL) with
    /// <c>.lora_down.weight</c>, <c>.lora_up.weight</c> and a 0-d <c>.alpha</c>.</summary>
    Kohya,

    /// <summary>diffusers' own: <c>unet.….lora.down.weight</c>, <c>text_encoder.….lora_linear_layer.down.weight</c>, or the older
    /// attention-processor names <c>….processor.to_q_lora.down.weight</c>.</summary>
    Diffusers,

    /// <summary>PEFT: <c>….lora_A.weight</c> / <c>….lora_B.weight</c> under <c>base_model.model.</c> or a component prefix.</summary>
    Peft,
}
