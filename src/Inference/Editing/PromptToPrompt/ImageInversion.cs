using Easel.Inference.Pipelines;
using Easel.Inference.Pipelines.Denoising;
using Easel.Inference.Schedulers;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Editing.PromptToPrompt;

/// <summary>How a real image becomes a Prompt-to-Prompt source.</summary>
public enum InversionMethod
{
    /// <summary>DDIM inversion alone: fast, but CFG sampling from its z_T drifts from the image.</summary>
    Ddim,

    /// <summary>Null-text inversion (Mokady et al. 2023): DDIM inversion, then per-step unconditional embeddings tuned so
    /// that CFG sampling retraces the inversion's trajectory.</summary>
    NullText,
}

/// <summary>
/// A real image inverted under the prompt that describes it: the start z_T and, for null-text inversion, the unconditional
/// embeddings of each step. As denoising extensions: every row starts from z_T, and the unconditional rows of each step
/// are that step's embedding, so DDIM sampling at the inversion's guidance reconstructs the image.
/// </summary>
public sealed class ImageInversion : ILatentInitializer, IStepTextEmbeddings, IDisposable
{
    private readonly IReadOnlyList<Tensor>? _unconditional;

    private ImageInversion(Tensor start, IReadOnlyList<Tensor>? unconditional, int innerSteps)
    {
        Start = start;
        _unconditional = unconditional;
        InnerSteps = innerSteps;
    }

    /// <summary>z_T, (1, C, h, w) float32.</summary>
    public Tensor Start { get; }

    /// <summary>Optimiser steps null-text inversion took over all steps (0 for DDIM inversion).</summary>
    public int InnerSteps { get; }

    /// <summary>Inner optimiser steps per denoising step at most (the paper's N).</summary>
    public const int MaxInnerSteps = 10;

    /// <summary>The paper's null-text learning rate.</summary>
    public const double DefaultLearningRate = 1e-2;

    /// <summary>
    /// Inverts <paramref name="image"/> under <paramref name="prompt"/> for DDIM sampling of <paramref name="steps"/> steps at
    /// <paramref name="guidanceScale"/>. DDIM inversion (guidance 1): z_{t+1} = √ᾱ_{t+1}·x̂_0(z_t) + √(1−ᾱ_{t+1})·ε̂(z_t), the
    /// pivots z_0 … z_T. Null-text: for each step from z_T, the unconditional embedding ∅_t (starting from the previous
    /// step's) minimises ‖z_{t−1}(z̄_t, ∅_t, C) − z*_{t−1}‖² by Adam (lr·(1 − i/100), at most <see cref="MaxInnerSteps"/>
    /// steps, stopping early below 1e-5 + 2e-5·i), then z̄_{t−1} is that step's CFG result.
    /// </summary>
    /// <param name="learningRate">Adam's rate at the first step: the paper's 1e-2 (tuned on SD 1.4) by default.</param>
    public static ImageInversion Invert(StableDiffusionPipeline pipeline, InputImage image, string prompt, int steps, double guidanceScale,
        InversionMethod method, double learningRate = DefaultLearningRate, CancellationToken cancellationToken = default)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var scheduler = new DDIMScheduler(pipeline.SchedulerConfig);
        scheduler.SetTimesteps(steps);
        var request = new TextToImageRequest(prompt, "", image.Width, image.Height, steps, guidanceScale, 0, "ddim");
        using var text = pipeline.Conditioner.Encode(request, 1, guidance: true, image.Height, image.Width); // [∅, C]
        var halves = text.HiddenStates.chunk(2, 0);
        var (unconditional, conditional) = (halves[0], halves[1]);
        var device = pipeline.Placement.Device;
        var vae = pipeline.Vae;
        Tensor z;
        using (var posterior = vae.Encode((image.ToRgbTensor(device) * 2 - 1).to(vae.parameters().First().dtype)))
            z = posterior.Mean.to(float32) * vae.Config.ScalingFactor; // the reference inverts E(x)'s mean

        var timesteps = scheduler.Timesteps.data<long>().ToArray(); // descending
        var ratio = scheduler.Config.NumTrainTimesteps / steps;
        var pivots = new List<Tensor> { z };
        for (var i = timesteps.Length - 1; i >= 0; i--)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var t = timesteps[i];
            var current = t - ratio >= 0 ? scheduler.AlphasCumprod[t - ratio] : torch.tensor(1f);
            var output = Predict(pipeline, z, t, conditional);
            var (original, epsilon) = Decompose(scheduler.Config.PredictionType, output, z, current);
            z = scheduler.AlphasCumprod[t].sqrt() * original + (1 - scheduler.AlphasCumprod[t]).sqrt() * epsilon;
            pivots.Add(z);
        }
        var start = pivots[^1].MoveToOuterDisposeScope();
        if (method == InversionMethod.Ddim)
            return new ImageInversion(start, null, 0);

        var tuned = new List<Tensor>(timesteps.Length);
        var latent = pivots[^1];
        var inner = 0;
        for (var i = 0; i < timesteps.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var stepScope = torch.NewDisposeScope();
            var timestep = torch.tensor(timesteps[i]);
            var target = pivots[^(i + 2)];
            var conditionalOutput = Predict(pipeline, latent, timesteps[i], conditional);
            var embedding = new TorchSharp.Modules.Parameter(unconditional.detach().clone(), requires_grad: true);
            using (var optimizer = torch.optim.Adam([embedding], learningRate * (1 - i / 100.0)))
            using (torch.enable_grad())
            {
                for (var j = 0; j < MaxInnerSteps; j++)
                {
                    using var innerScope = torch.NewDisposeScope();
                    var unconditionalOutput = Predict(pipeline, latent, timesteps[i], embedding);
                    var guided = unconditionalOutput + guidanceScale * (conditionalOutput - unconditionalOutput);
                    var previous = scheduler.Step(guided, timestep, latent).PrevSample;
                    var loss = nn.functional.mse_loss(previous, target);
                    optimizer.zero_grad();
                    loss.backward();
                    optimizer.step();
                    inner++;
                    if (loss.item<float>() < 1e-5 + i * 2e-5)
                        break;
                }
            }
            unconditional = embedding.detach().clone().MoveToOuterDisposeScope();
            tuned.Add(unconditional.clone().DetachFromDisposeScope());
            var final = Predict(pipeline, latent, timesteps[i], unconditional);
            latent = scheduler.Step(final + guidanceScale * (conditionalOutput - final), timestep, latent).PrevSample.MoveToOuterDisposeScope();
        }
        return new ImageInversion(start, tuned, inner);
    }

    public LatentStart Initialize(DenoisingSetup setup) =>
        new(Start.to(setup.Pipeline.Placement.Device).repeat(setup.LatentShape[0], 1, 1, 1), setup.Scheduler.Timesteps, []);

    /// <summary>The unconditional rows of step i become ∅_i (null-text inversion); DDIM inversion leaves the embeddings alone.</summary>
    public Tensor HiddenStates(DenoisingStep step, Tensor hiddenStates)
    {
        if (_unconditional is null || !step.Guidance)
            return hiddenStates;
        if (step.TotalSteps != _unconditional.Count)
            throw new InvalidOperationException($"The inversion has {_unconditional.Count} steps; the request runs {step.TotalSteps}.");
        var rows = hiddenStates.shape[0] / 2;
        var embedding = _unconditional[step.Index].to(hiddenStates.dtype).to(hiddenStates.device);
        return torch.cat([embedding.expand(rows, -1, -1), hiddenStates[(int)rows..]], 0);
    }

    /// <summary>The UNet's output for one latent at timestep t under <paramref name="text"/> (1, L, D), float32.</summary>
    private static Tensor Predict(StableDiffusionPipeline pipeline, Tensor latent, long t, Tensor text)
    {
        var dtype = pipeline.Placement.DType;
        return pipeline.UNet.forward(latent.to(dtype), torch.tensor(t).to(pipeline.Placement.Device), text.to(dtype)).to(float32);
    }

    /// <summary>x̂_0 and ε̂ from the model output at noise level ᾱ (the parameterisations DDIM reads).</summary>
    private static (Tensor Original, Tensor Epsilon) Decompose(string predictionType, Tensor output, Tensor sample, Tensor alpha) => predictionType switch
    {
        "epsilon" => ((sample - (1 - alpha).sqrt() * output) / alpha.sqrt(), output),
        "v_prediction" => (alpha.sqrt() * sample - (1 - alpha).sqrt() * output, alpha.sqrt() * output + (1 - alpha).sqrt() * sample),
        _ => throw new NotSupportedException($"Inversion supports epsilon and v_prediction models; this one predicts {predictionType}."),
    };

    public void Dispose()
    {
        Start.Dispose();
        foreach (var embedding in _unconditional ?? [])
            embedding.Dispose();
    }
}
