using Easel.Inference.Pipelines;

namespace Easel.Inference.Customization.TextualInversion;

/// <summary>
/// Textual inversion (Gal et al. 2022): a new token whose embedding vectors are the only thing trained, with the
/// diffusion loss on captions that use the token, everything else frozen; as diffusers' textual_inversion.py. Parameters:
/// <list type="bullet">
/// <item><c>token</c> (required): the placeholder prompts write, e.g. <c>&lt;ring&gt;</c>; not a word of the vocabulary, and
/// in every caption;</item>
/// <item><c>initializer_token</c> (default <see cref="DefaultInitializer"/>): one vocabulary token whose embedding every vector
/// starts from; a word close to the concept (e.g. "ring") starts nearer to it;</item>
/// <item><c>num_vectors</c> (integer ≥ 1, default 1): how many token positions the token stands for.</item>
/// </list>
/// The artifact is diffusers' <c>learned_embeds.safetensors</c>.
/// </summary>
public sealed class TextualInversionFineTune : IFineTuneMethod
{
    public const string MethodName = "textual_inversion";

    /// <summary>
    /// The initializer when none is given: a generic noun, one CLIP token, that says "a thing" without pulling towards any
    /// particular subject or style (the captions' own first word is usually an article, which carries nothing).
    /// </summary>
    public const string DefaultInitializer = "object";

    public string Name => MethodName;

    /// <exception cref="ArgumentException">A parameter or setting the run cannot use (names it).</exception>
    /// <exception cref="NotSupportedException">An SDXL pipeline.</exception>
    public IFineTuneRun Start(StableDiffusionPipeline pipeline, FineTuneSettings settings)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(settings);
        return new TextualInversionFineTuneRun(pipeline, settings);
    }
}
