using Easel.Inference.Models.UNet;
using Easel.Inference.Schedulers;
using Easel.Inference.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Training;

/// <summary>
/// The latent diffusion training objective (Ho et al. 2020, eq. 14; Rombach et al. 2022, eq. 2):
/// E_{z, c, ε, t} ‖ε − ε_θ(√ᾱ_t z + √(1−ᾱ_t) ε, t, τ(c))‖², with captions replaced by the empty
/// prompt at a given rate so that one model serves classifier-free guidance (Ho &amp; Salimans 2022).
/// Fine-tunes (LoRA, DreamBooth, textual inversion) reuse it with their own choice of trainable parameters.
/// </summary>
/// <param name="emphasis">When set, that share of each batch draws its timestep from a range instead of from all timesteps.</param>
/// <param name="weighting">When set, each sample's squared error is weighted by its noise level instead of equally.</param>
/// <param name="addedTokenRows">The token-embedding rows of the tokens <paramref name="tokenizer"/> adds to the vocabulary
/// (<see cref="ClipTokenizer.WithAddedTokens"/>), or null; textual inversion trains them through this loss.</param>
public sealed class LatentDiffusionObjective(UNet2DConditionModel unet, ClipTextModel textEncoder, ClipTokenizer tokenizer,
    IScheduler noiseSchedule, double unconditionalRate, TimestepEmphasis? emphasis = null, HighNoiseWeighting? weighting = null,
    Tensor? addedTokenRows = null)
{
    /// <summary>The loss for a batch of (already scaled) latents and their captions.</summary>
    /// <param name="conditioning">When set, the UNet's extra inputs for the step from (z_t, t, text states): how control
    /// models (ControlNet residuals, adapter features, grounding) are trained against the frozen UNet with this same loss.</param>
    public Tensor Loss(Tensor latents, IReadOnlyList<string> captions, Generator generator,
        Func<Tensor, Tensor, Tensor, UNetConditioning?>? conditioning = null)
    {
        var batch = latents.shape[0];
        var device = latents.device;
        var timesteps = torch.randint(0, noiseSchedule.Config.NumTrainTimesteps, [batch], dtype: int64, generator: generator);
        if (emphasis is not null)
            timesteps = emphasis.Apply(timesteps, generator);
        var noise = torch.randn(latents.shape, dtype: float32, generator: generator).to(device);
        var dropped = torch.rand([batch], dtype: float32, generator: generator).data<float>().ToArray();
        var conditioningText = captions.Select((c, i) => dropped[i] < unconditionalRate ? "" : c).ToList();

        var noisy = noiseSchedule.AddNoise(latents, noise, timesteps); // z_t
        var ids = tokenizer.EncodeBatch(conditioningText).to(device); // (B, 77)
        var text = textEncoder.forward(ids, addedTokenRows).LastHiddenState; // (B, 77, D)
        var prediction = unet.forward(noisy, timesteps.to(device), text, conditioning?.Invoke(noisy, timesteps.to(device), text)); // ε_θ or v_θ
        var target = Target(noiseSchedule, latents, noise, timesteps);
        if (weighting is null)
            return nn.functional.mse_loss(prediction, target);
        var perSample = (prediction - target).square().mean([1, 2, 3]);
        var alphaBar = noiseSchedule.AlphasCumprod.index_select(0, timesteps).to(device);
        return (perSample * weighting.Weights(alphaBar, noiseSchedule.Config.PredictionType)).mean();
    }

    /// <summary>
    /// The same loss under given text states (B, 77, D) instead of captions, every timestep equally likely: how Imagic
    /// optimises the states themselves and then tunes the model to them.
    /// </summary>
    public static Tensor Loss(UNet2DConditionModel unet, IScheduler noiseSchedule, Tensor latents, Tensor text, Generator generator)
    {
        var timesteps = torch.randint(0, noiseSchedule.Config.NumTrainTimesteps, [latents.shape[0]], dtype: int64, generator: generator);
        var noise = torch.randn(latents.shape, dtype: float32, generator: generator).to(latents.device);
        var noisy = noiseSchedule.AddNoise(latents, noise, timesteps);
        var prediction = unet.forward(noisy, timesteps.to(latents.device), text);
        return nn.functional.mse_loss(prediction.to(float32), Target(noiseSchedule, latents, noise, timesteps));
    }

    /// <summary>What the model predicts: ε, or v = √ᾱ_t ε − √(1−ᾱ_t) z (Salimans &amp; Ho 2022, §4).</summary>
    private static Tensor Target(IScheduler noiseSchedule, Tensor latents, Tensor noise, Tensor timesteps)
    {
        switch (noiseSchedule.Config.PredictionType)
        {
            case "epsilon":
                return noise;
            case "v_prediction":
                var alphaBar = noiseSchedule.AlphasCumprod.index_select(0, timesteps).to(latents.device).view(-1, 1, 1, 1);
                return alphaBar.sqrt() * noise - (1 - alphaBar).sqrt() * latents;
            default:
                throw new NotSupportedException($"Training for prediction_type '{noiseSchedule.Config.PredictionType}' is not supported.");
        }
    }
}

/// <summary>
/// Draws a share of the training timesteps from [<see cref="From"/>, <see cref="To"/>) instead of from all of them, to
/// give one part of the noise range a larger part of the gradient: the noisiest timesteps decide the layout (and, on a
/// zero-terminal-SNR schedule, are the only ones where it must come from the caption); the least noisy refine outlines.
/// </summary>
public sealed record TimestepEmphasis(double Share, int From, int To)
{
    public Tensor Apply(Tensor timesteps, Generator generator)
    {
        var count = timesteps.shape[0];
        var emphasised = torch.randint(From, To, [count], dtype: int64, generator: generator);
        var chosen = torch.rand([count], dtype: float32, generator: generator) < Share;
        return torch.where(chosen, emphasised, timesteps);
    }
}

/// <summary>
/// Weights each sample's loss by min(1 + 1/SNR_t, <see cref="Cap"/>) = min(1/ᾱ_t, Cap) in units of the ε loss: the
/// weighting the v-prediction loss puts on ε errors (‖v − v̂‖² = ‖ε − ε̂‖² / ᾱ_t; Salimans &amp; Ho 2022, §4), truncated.
/// The plain ε loss gives the noisiest timesteps almost no gradient through the caption (an error in the predicted
/// image costs ᾱ_t/(1−ᾱ_t) there), yet that is where the layout is decided; the cap keeps them from drowning the rest.
/// </summary>
public sealed record HighNoiseWeighting(double Cap)
{
    /// <summary>Per-sample factors for the loss of a model with the given prediction type, from each sample's ᾱ_t.</summary>
    public Tensor Weights(Tensor alphaBar, string predictionType)
    {
        var epsilonUnits = alphaBar.reciprocal().clamp_max(Cap);
        return predictionType switch
        {
            "epsilon" => epsilonUnits,
            "v_prediction" => epsilonUnits * alphaBar, // the v loss already carries 1/ᾱ_t
            var other => throw new NotSupportedException($"Loss weighting for prediction_type '{other}' is not supported."),
        };
    }
}
