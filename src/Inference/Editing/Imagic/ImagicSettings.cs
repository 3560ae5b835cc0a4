namespace Easel.Inference.Editing.Imagic;

/// <summary>
/// Imagic's two training stages (Kawar et al. 2023, §3): A optimises the target text embedding to reconstruct the
/// image, B tunes the model (here a LoRA on the UNet's attention projections) to the optimised embedding.
/// </summary>
/// <param name="EmbeddingSteps">Stage A's Adam steps on e_opt.</param>
/// <param name="EmbeddingLearningRate">Stage A's rate: 1e-2 (the SD port's 1e-3 over 500 steps left e_opt within reach of
/// e_tgt on the bundled model in 200, measured by eval-editing).</param>
/// <param name="FineTuneSteps">Stage B's Adam steps on the LoRA.</param>
/// <param name="FineTuneLearningRate">Stage B's rate: 1e-4 (at 1e-3 the LoRA redraws the input whatever the text, measured).</param>
/// <param name="Rank">The LoRA's rank (α = rank).</param>
/// <param name="Batch">Timesteps drawn per step, all for the one image.</param>
/// <param name="Seed">Seeds the LoRA's initialisation and every step's timesteps and noise.</param>
public sealed record ImagicSettings(
    int EmbeddingSteps = 200,
    double EmbeddingLearningRate = 1e-2,
    int FineTuneSteps = 300,
    double FineTuneLearningRate = 1e-4,
    int Rank = 4,
    int Batch = 4,
    long Seed = 0)
{
    /// <summary>The UNet modules the LoRA of stage B adapts.</summary>
    public static readonly IReadOnlyList<string> TargetModules = ["to_q", "to_k", "to_v", "to_out.0"];
}
