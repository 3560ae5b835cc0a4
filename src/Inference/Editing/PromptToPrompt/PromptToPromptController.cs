using Easel.Inference.Text.Prompting;
using Easel.Inference.Models;
using Easel.Inference.Pipelines.Denoising;
using Easel.Inference.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Editing.PromptToPrompt;

/// <summary>
/// Prompt-to-Prompt's attention controller for one request whose batch is [source, edit] (Hertz et al. 2022, Algorithm 1):
/// both rows start from the same z_T (<see cref="ILatentInitializer"/>), and in every UNet call the edited row's attention
/// maps are replaced by the source row's — cross-attention through the prompt mapping, with per-word steps and
/// re-weighting; self-attention for the first steps — in the conditional half only (the unconditional rows run as they
/// are, as in the reference). With <see cref="PromptToPromptSettings.LocalBlend"/> the edited latents keep the source's
/// outside the blend words' attention region after every step.
/// </summary>
public sealed class PromptToPromptController : IAttentionProcessorProvider, ILatentInitializer, ILatentEdit, IDisposable
{
    private readonly PromptToPromptSettings _settings;
    private readonly CrossAttentionMapping _mapping;
    private readonly float[,] _crossWindows; // (token, 2): the step fractions [start, end) of each edited token's injection
    private readonly Tensor? _equalizer; // (T,)
    private readonly Tensor? _blendWords; // (2, T): the local blend words' tokens in the source and the edited prompt
    private readonly Func<DenoisingSetup, LatentStart> _start;
    private readonly Dictionary<long, Tensor> _crossMaps = []; // queries → Σ over steps and layers of the cond rows' maps (2, N, T)

    /// <param name="start">The rows' common start: noise drawn once, or an inverted image's z_T.</param>
    public PromptToPromptController(ClipTokenizer tokenizer, string source, string edit, PromptToPromptSettings settings,
        Func<DenoisingSetup, LatentStart> start)
    {
        _settings = settings;
        _start = start;
        var tokens = tokenizer.ModelMaxLength;
        _mapping = CrossAttentionMapping.For(tokenizer, source, edit, tokens);
        var editWords = PromptWords.Of(tokenizer, edit);
        _crossWindows = new float[tokens, 2];
        for (var t = 0; t < tokens; t++)
            _crossWindows[t, 1] = (float)settings.CrossReplaceSteps;
        foreach (var (word, fraction) in settings.CrossReplaceStepsPerWord ?? new Dictionary<string, double>())
            foreach (var position in Require(editWords, word, "cross_replace_steps"))
                _crossWindows[position, 1] = (float)fraction;
        if (settings.Reweight is { Count: > 0 } reweight)
        {
            var factors = Enumerable.Repeat(1f, tokens).ToArray();
            foreach (var (word, factor) in reweight)
                foreach (var position in Require(editWords, word, "reweight"))
                    factors[position] = (float)factor;
            _equalizer = torch.tensor(factors).DetachFromDisposeScope();
        }
        if (settings.LocalBlend is { Count: > 0 } blend)
        {
            var sourceWords = PromptWords.Of(tokenizer, source);
            var indicator = new float[2 * tokens];
            foreach (var word in blend)
            {
                var (inSource, inEdit) = (sourceWords.PositionsOf(word), editWords.PositionsOf(word));
                if (inSource.Length + inEdit.Length == 0)
                    throw new ArgumentException($"local_blend: '{word}' is a word of neither prompt.");
                foreach (var p in inSource)
                    indicator[p] = 1;
                foreach (var p in inEdit)
                    indicator[tokens + p] = 1;
            }
            _blendWords = torch.tensor(indicator, [2, tokens]).DetachFromDisposeScope();
        }
    }

    public CrossAttentionMapping Mapping => _mapping;

    private static int[] Require(PromptWords words, string word, string field)
    {
        var positions = words.PositionsOf(word);
        return positions.Length > 0 ? positions : throw new ArgumentException($"{field}: '{word}' is not a word of the edited prompt.");
    }

    public LatentStart Initialize(DenoisingSetup setup)
    {
        if (setup.LatentShape[0] != 2)
            throw new ArgumentException($"Prompt-to-Prompt runs a batch of two rows (source, edit); got {setup.LatentShape[0]}.");
        return _start(setup);
    }

    public IAttentionProcessor ProcessorFor(Attention attention, IAttentionProcessor installed) => new Processor(this);

    /// <summary>Local blend (the paper's §3.3): z_edit ← z_src + m ⊙ (z_edit − z_src), m the union of both rows' word regions.</summary>
    public Tensor AfterStep(DenoisingStep step, Tensor latents)
    {
        if (_blendWords is null || _crossMaps.Count == 0)
            return latents;
        using var scope = torch.NewDisposeScope();
        var (queries, maps) = _crossMaps.MaxBy(m => m.Key); // the highest cross-attention resolution the UNet has
        var (height, width) = (latents.shape[2], latents.shape[3]);
        var factor = Math.Sqrt((double)(height * width) / queries); // the maps' downsampling from the latent grid
        var words = (maps * _blendWords.to(maps.device).unsqueeze(1)).sum(-1); // (2, N)
        var region = words.view(maps.shape[0], 1, (long)Math.Round(height / factor), (long)Math.Round(width / factor));
        region = nn.functional.max_pool2d(region, 3, 1, 1);
        region = nn.functional.interpolate(region, [height, width], mode: InterpolationMode.Nearest);
        var peak = region.amax([2, 3], keepdim: true).clamp_min(1e-12);
        var mask = (region / peak > _settings.LocalBlendThreshold).any(0, keepdim: true).to(latents.dtype); // (1, 1, h, w)
        var source = latents[..1];
        return (source + mask * (latents - source)).MoveToOuterDisposeScope();
    }

    private void Record(long queries, Tensor source, Tensor edit)
    {
        if (_blendWords is null)
            return;
        var maps = torch.stack([source.mean([0]), edit.mean([0])], 0).to(float32).detach(); // (2, N, T)
        if (_crossMaps.TryGetValue(queries, out var sum))
        {
            sum.add_(maps);
            maps.Dispose();
        }
        else
            _crossMaps[queries] = maps.DetachFromDisposeScope();
    }

    /// <summary>(T,) 1 for the edited tokens whose injection window holds step <paramref name="index"/> of <paramref name="total"/>.</summary>
    private Tensor? CrossAlpha(int index, int total)
    {
        var tokens = _crossWindows.GetLength(0);
        var alpha = new float[tokens];
        var any = false;
        for (var t = 0; t < tokens; t++)
        {
            var on = index >= (int)(_crossWindows[t, 0] * total) && index < (int)(_crossWindows[t, 1] * total);
            alpha[t] = on ? 1 : 0;
            any |= on;
        }
        return any ? torch.tensor(alpha) : null;
    }

    private bool SelfReplaces(int index, int total) => index < (int)(_settings.SelfReplaceSteps * total);

    public void Dispose()
    {
        _equalizer?.Dispose();
        _blendWords?.Dispose();
        foreach (var maps in _crossMaps.Values)
            maps.Dispose();
        _crossMaps.Clear();
    }

    private sealed class Processor(PromptToPromptController controller) : AttnProcessor
    {
        protected override Tensor OnAttentionProbabilities(Attention attention, Tensor probabilities, AttentionContext? context)
        {
            if (context is null || context.StepIndex < 0)
                return probabilities;
            var heads = attention.Heads;
            var (batch, queries, keys) = (probabilities.shape[0] / heads, probabilities.shape[1], probabilities.shape[2]);
            var conditional = batch == 4 ? 2 : batch == 2 ? 0 : throw new InvalidOperationException($"Prompt-to-Prompt expects 2 or 4 rows; got {batch}.");
            var rows = probabilities.view(batch, heads, queries, keys);
            var (source, edit) = (rows[conditional], rows[conditional + 1]); // (h, N, T) or (h, N, N)
            Tensor replaced;
            if (attention.IsCrossAttention)
            {
                if (keys != controller._crossWindows.GetLength(0))
                    throw new NotSupportedException($"Prompt-to-Prompt maps one window of {controller._crossWindows.GetLength(0)} tokens; these prompts "
                        + $"encode to {keys}. Shorten them to {PromptWords.MaxWordTokens} tokens.");
                controller.Record(queries, source, edit);
                using var alpha = controller.CrossAlpha(context.StepIndex, context.TotalSteps);
                if (alpha is null)
                    return probabilities;
                var mapped = controller._mapping.Map(source, edit);
                if (controller._equalizer is { } equalizer)
                    mapped = mapped * equalizer.to(mapped.dtype).to(mapped.device);
                var a = alpha.to(edit.dtype).to(edit.device);
                replaced = mapped * a + edit * (1 - a);
            }
            else if (queries <= PromptToPromptSettings.SelfReplaceMaxQueries && controller.SelfReplaces(context.StepIndex, context.TotalSteps))
                replaced = source;
            else
                return probabilities;
            var parts = Enumerable.Range(0, (int)batch).Select(r => r == conditional + 1 ? replaced.unsqueeze(0) : rows[r].unsqueeze(0)).ToArray();
            return torch.cat(parts, 0).view(batch * heads, queries, keys);
        }
    }
}
