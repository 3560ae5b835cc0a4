using Easel.Inference.Models;
using Easel.Inference.Models.UNet;
using Easel.Inference.Schedulers;
using static TorchSharp.torch;

namespace Easel.Inference.Pipelines.Denoising;

/// <summary>One step of the loop as the hooks see it.</summary>
public sealed class DenoisingStep
{
    private readonly Func<Tensor, Tensor, PromptEmbeddings, UNetConditioning?, Tensor> _predictNoise;
    private readonly Func<string, Tensor>? _encodeText;

    internal DenoisingStep(int index, Tensor timesteps, IScheduler scheduler, GenerationRequest request, PromptEmbeddings prompt,
        INoiseSource noise, AttentionContext attention, Func<Tensor, Tensor, PromptEmbeddings, UNetConditioning?, Tensor> predictNoise,
        Func<string, Tensor>? encodeText = null)
    {
        _encodeText = encodeText;
        Index = index;
        Timesteps = timesteps;
        Scheduler = scheduler;
        Request = request;
        Prompt = prompt;
        Noise = noise;
        Attention = attention;
        _predictNoise = predictNoise;
    }

    /// <summary>0-based index into <see cref="Timesteps"/>.</summary>
    public int Index { get; }

    public int TotalSteps => (int)Timesteps.shape[0];

    /// <summary>Every timestep the loop runs.</summary>
    public Tensor Timesteps { get; }

    /// <summary>This step's timestep t (0-d).</summary>
    public Tensor Timestep => Timesteps[Index];

    public IScheduler Scheduler { get; }

    public GenerationRequest Request { get; }

    /// <summary>The prompt embeddings: with guidance the [uncond, cond] batch (2N rows), else the N conditional rows.</summary>
    public PromptEmbeddings Prompt { get; }

    public bool Guidance => Request.GuidanceScale > 1.0;

    /// <summary>The request's noise source (fresh noise for a hook comes from here, so requests stay reproducible).</summary>
    public INoiseSource Noise { get; }

    /// <summary>The attention context of this step's UNet call.</summary>
    public AttentionContext Attention { get; }

    /// <summary>
    /// The UNet's prediction for (already scaled) <paramref name="modelInput"/> at this step under <paramref name="prompt"/>,
    /// float32 — for hooks that need a call of their own (Attend-and-Excite's grad-enabled conditional pass).
    /// </summary>
    public Tensor PredictNoise(Tensor modelInput, PromptEmbeddings prompt, UNetConditioning? conditioning = null) =>
        _predictNoise(modelInput, Timestep, prompt, conditioning);

    /// <summary>
    /// The cross-attention states (1, L, D) of <paramref name="text"/> encoded alone as a conditional prompt, with the request's
    /// embeddings and LoRAs — for methods that encode parts of the prompt (Structured Diffusion's noun phrases).
    /// </summary>
    public Tensor EncodeText(string text) =>
        (_encodeText ?? throw new InvalidOperationException("This step was built without a text encoder."))(text);
}
