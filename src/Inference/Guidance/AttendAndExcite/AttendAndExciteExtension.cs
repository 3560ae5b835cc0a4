using Easel.Inference.Models;
using Easel.Inference.Models.UNet;
using Easel.Inference.Pipelines;
using Easel.Inference.Pipelines.Denoising;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Guidance.AttendAndExcite;

/// <summary>
/// Attend-and-Excite (Chefer et al. 2023, Algorithm 1) on the denoising seam: before each scheduler step, a grad-enabled
/// conditional UNet call on z_t records the cross-attention maps at one resolution; the loss of
/// <see cref="SubjectAttentionLoss"/> moves the latents, z_t ← z_t − α_i·∇L, for the first MaxIterToAlter steps, repeated at the
/// refinement steps until L ≤ 1 − threshold (at most MaxRefinementSteps times); then the ordinary guided step runs on the
/// updated z_t. Each image of the batch is updated alone with its own conditional prompt row, as diffusers does.
/// </summary>
public sealed class AttendAndExciteExtension(AttendAndExciteSettings settings) : ILatentEdit, IAttentionProcessorProvider
{
    private readonly CrossAttentionMapStore _store = new();
    private double[]? _stepSizes;

    public AttendAndExciteSettings Settings => settings;

    /// <summary>The resolution the maps were read at, once the first probe has run.</summary>
    public (int Height, int Width)? Resolution { get; private set; }

    /// <summary>Grad-enabled UNet calls made so far (diffusers' pipeline makes one per step without refinement).</summary>
    public int ProbeCalls { get; private set; }

    /// <summary>The loss of each image at each probed step, in call order (for logs and evals).</summary>
    public List<float> Losses { get; } = [];

    public IAttentionProcessor ProcessorFor(Attention attention, IAttentionProcessor installed) =>
        attention.IsCrossAttention ? new MapRecordingProcessor(_store, installed) : installed;

    public Tensor BeforeStep(DenoisingStep step, Tensor latents)
    {
        var i = step.Index;
        var refines = settings.Thresholds.ContainsKey(i);
        if (!settings.ProbeEveryStep && i >= settings.MaxIterToAlter && !refines)
            return latents;
        _stepSizes ??= StepSizes(step.TotalSteps);
        var count = latents.shape[0];
        var conditional = step.Guidance ? step.Prompt.HiddenStates[(int)count..] : step.Prompt.HiddenStates; // (N, L, D)
        var added = step.Prompt.Added;
        var updated = new Tensor[count];
        for (var n = 0; n < count; n++)
        {
            using var scope = torch.NewDisposeScope();
            var row = torch.tensor(new long[] { step.Guidance ? count + n : n }, device: conditional.device);
            var prompt = new PromptEmbeddings(conditional[n..(n + 1)],
                added is null ? null : new AddedConditions(added.TextEmbeds.index_select(0, row.to(added.TextEmbeds.device)),
                    added.TimeIds.index_select(0, row.to(added.TimeIds.device))));
            using var grad = torch.enable_grad();
            var latent = latents[n..(n + 1)].detach().requires_grad_(true);
            var loss = Probe(step, latent, prompt);
            if (settings.Thresholds.TryGetValue(i, out var threshold) && loss.item<float>() > 1.0 - threshold)
                (latent, loss) = Refine(step, latent, prompt, loss, threshold, _stepSizes[i]);
            if (i < settings.MaxIterToAlter && loss.item<float>() != 0)
                latent = Update(latent, loss, _stepSizes[i]);
            updated[n] = latent.detach().MoveToOuterDisposeScope();
        }
        return torch.cat(updated, 0);
    }

    /// <summary>α_i = scale_factor · sqrt(linspace(1.0, 0.5, steps)[i]).</summary>
    private double[] StepSizes(int steps) =>
        [.. Enumerable.Range(0, steps).Select(i => settings.ScaleFactor * Math.Sqrt(steps == 1 ? 1.0 : 1.0 - 0.5 * i / (steps - 1)))];

    /// <summary>One grad-enabled conditional UNet call on <paramref name="latent"/>: the loss of its maps (the graph reaches the latent).</summary>
    private Tensor Probe(DenoisingStep step, Tensor latent, PromptEmbeddings prompt)
    {
        _store.Clear();
        ProbeCalls++;
        var input = step.Scheduler.ScaleModelInput(latent, step.Timestep);
        var conditioning = (prompt.UNetConditioning ?? new UNetConditioning()) with { Attention = step.Attention.With(_store) };
        step.PredictNoise(input, prompt, conditioning).Dispose();
        var (height, width) = Resolution ??= ChooseResolution(latent.shape[2], latent.shape[3]);
        using var maps = _store.Aggregate(height, width);
        using var maxima = SubjectAttentionLoss.MaxAttentionPerToken(maps, settings.TokenIndices);
        var loss = SubjectAttentionLoss.Loss(maxima);
        _store.Clear(); // the loss's graph keeps what it needs of the maps
        Losses.Add(loss.item<float>());
        return loss;
    }

    /// <summary>z ← z − α·∂L/∂z (the graph is kept: diffusers retains it).</summary>
    private static Tensor Update(Tensor latent, Tensor loss, double stepSize)
    {
        var gradient = torch.autograd.grad([loss], [latent], retain_graph: true)[0];
        return latent - stepSize * gradient;
    }

    /// <summary>
    /// The iterative refinement of a threshold step: update and probe again while L &gt; 1 − threshold, at most
    /// MaxRefinementSteps times, then one more probe whose loss the step's ordinary update uses.
    /// </summary>
    private (Tensor Latent, Tensor Loss) Refine(DenoisingStep step, Tensor latent, PromptEmbeddings prompt, Tensor loss, double threshold, double stepSize)
    {
        var target = Math.Max(0, 1.0 - threshold);
        for (var iteration = 1; loss.item<float>() > target; iteration++)
        {
            latent = latent.detach().requires_grad_(true);
            loss = Probe(step, latent, prompt);
            if (loss.item<float>() != 0)
                latent = Update(latent, loss, stepSize);
            if (iteration >= settings.MaxRefinementSteps)
                break;
        }
        latent = latent.detach().requires_grad_(true);
        return (latent, Probe(step, latent, prompt));
    }

    /// <summary>
    /// The requested resolution, which the model must have; by default the recorded one nearest
    /// <see cref="AttendAndExciteSettings.PreferredResolution"/>² cells in log area (ties to the finer).
    /// </summary>
    private (int Height, int Width) ChooseResolution(long latentHeight, long latentWidth)
    {
        var available = _store.QueryLengths.Select(n => LevelOf(n, latentHeight, latentWidth)).OfType<(int, int)>().Distinct()
            .OrderByDescending(r => r.Item1 * r.Item2).ToList();
        if (available.Count == 0)
            throw new InvalidOperationException("The UNet ran no cross-attention layer, so Attend-and-Excite has no maps.");
        string List() => string.Join(", ", available.Select(r => $"{r.Item1}×{r.Item2}"));
        if (settings.AttentionResolution is { } asked)
            return available.Contains(asked) ? asked
                : throw new ArgumentException($"attn_res {asked.Height}×{asked.Width}: at this size the model's cross-attention runs at {List()} only.");
        var preferred = Math.Log(AttendAndExciteSettings.PreferredResolution * AttendAndExciteSettings.PreferredResolution);
        return available.OrderBy(r => Math.Abs(Math.Log(r.Item1 * r.Item2) - preferred)).First();
    }

    /// <summary>The grid of a query length: the latent halved k times (stride-2 convolutions round up).</summary>
    private static (int, int)? LevelOf(long queries, long height, long width)
    {
        for (var (h, w) = (height, width); h >= 1 && w >= 1; (h, w) = ((h + 1) / 2, (w + 1) / 2))
        {
            if (h * w == queries)
                return ((int)h, (int)w);
            if (h == 1 && w == 1)
                break;
        }
        return null;
    }
}
