namespace Easel.Core.Artifacts;

/// <summary>
/// The on-disk layout of an artifact's safetensors file. LoRAs: <see cref="Kohya"/> (<c>lora_unet_…</c>, <c>lora_te_…</c>),
/// <see cref="Diffusers"/> (<c>unet.….lora.down.weight</c>) or <see cref="Peft"/> (<c>…lora_A.weight</c>). Embeddings:
/// <see cref="Diffusers"/> (<c>learned_embeds.safetensors</c>: one tensor named by its token) or <see cref="A1111"/>
/// (<c>emb_params</c>, or <c>clip_l</c>/<c>clip_g</c> for SDXL).
/// </summary>
public enum ArtifactFormat
{
    Kohya,
    Diffusers,
    Peft,
    A1111,

    /// <summary>Easel's own layouts (an Imagic edit session: <c>e_tgt</c>, <c>e_opt</c> and <c>lora.{module}.down/up</c>).</summary>
    Easel,
}
