using Easel.Inference.Imaging;
using Easel.Inference.Loading;
using Easel.Inference.Models.UNet;
using Easel.Inference.Models.Vae;
using Easel.Inference.Runtime;
using Easel.Inference.Schedulers;
using Easel.Inference.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Pipelines;

/// <summary>
/// Latent diffusion text-to-image (Rombach et al. 2022) with classifier-free guidance (Ho &amp; Salimans 2022),
/// loaded from a diffusers folder: model_index.json, tokenizer/, text_encoder/, unet/, vae/, scheduler/.
/// </summary>
public sealed class StableDiffusionPipeline : IDisposable
{
    private readonly ClipTokenizer _tokenizer;
    private readonly ClipTextModel _textEncoder;
    private readonly UNet2DConditionModel _unet;
    private readonly AutoencoderKL _vae;
    private readonly SchedulerConfig _schedulerConfig;

    private StableDiffusionPipeline(string folder, InferenceDevice placement, ClipTokenizer tokenizer, ClipTextModel textEncoder,
        UNet2DConditionModel unet, AutoencoderKL vae, SchedulerConfig schedulerConfig)
    {
        Folder = folder;
        Placement = placement;
        _tokenizer = tokenizer;
        _textEncoder = textEncoder;
        _unet = unet;
        _vae = vae;
        _schedulerConfig = schedulerConfig;
    }

    /// <summary>The model folder this pipeline was loaded from.</summary>
    public string Folder { get; }

    /// <summary>The device and dtype the models run in.</summary>
    public InferenceDevice Placement { get; }

    /// <summary>The model family: "sd15" for SD 1.x-style UNets.</summary>
    public string Family => "sd15";

    /// <summary>How many pixels one latent cell covers along each axis: 2^(number of VAE blocks − 1).</summary>
    public int VaeScaleFactor => _vae.Config.ScaleFactor;

    /// <summary>Loads every component of a diffusers folder onto the requested device.</summary>
    public static StableDiffusionPipeline Load(string modelFolder, PipelineOptions? options = null)
    {
        options ??= new PipelineOptions();
        if (!File.Exists(Path.Combine(modelFolder, "model_index.json")))
            throw new FileNotFoundException($"'{modelFolder}' is not a diffusers model folder: it has no model_index.json.");
        var placement = InferenceDevice.Resolve(options.Device, options.DType);
        var tokenizer = ClipTokenizer.FromPretrained(Path.Combine(modelFolder, "tokenizer"));
        var textEncoder = ClipTextModel.FromPretrained(Path.Combine(modelFolder, "text_encoder"), placement.Device, placement.DType);
        var unet = UNet2DConditionModel.FromPretrained(Path.Combine(modelFolder, "unet"), placement.Device, placement.DType);
        var vae = AutoencoderKL.FromPretrained(Path.Combine(modelFolder, "vae"), placement.Device, placement.DType);
        var schedulerConfig = SchedulerConfig.Read(Path.Combine(modelFolder, "scheduler", "scheduler_config.json"));
        return new StableDiffusionPipeline(modelFolder, placement, tokenizer, textEncoder, unet, vae, schedulerConfig);
    }

    /// <summary>
    /// Runs text-to-image. Image i of the batch starts from the i-th latent of one draw of shape
    /// (N, C, H/f, W/f) from a CPU generator seeded with <see cref="TextToImageRequest.Seed"/>, as diffusers does
    /// with <c>torch.Generator().manual_seed(seed)</c>, so the same request gives the same pixels on the same device.
    /// </summary>
    public IReadOnlyList<GeneratedImage> TextToImage(TextToImageRequest request, IProgress<DenoisingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        Validate(request);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var scheduler = CreateScheduler(request.Scheduler);
        var generator = new Generator((ulong)request.Seed, CPU);
        var latentShape = new long[] { request.NumImages, _vae.Config.LatentChannels, request.Height / VaeScaleFactor, request.Width / VaeScaleFactor };
        var initialNoise = torch.randn(latentShape, dtype: float32, generator: generator);
        var latents = Denoise(request.Prompt, request.NegativePrompt, request.Steps, request.GuidanceScale, request.Eta,
            scheduler, initialNoise, new GeneratorNoiseSource(generator), progress, cancellationToken);
        return ImageTensors.ToImages(Decode(latents));
    }

    /// <summary>
    /// The denoising loop from given initial noise x_T (drawn on the CPU so that seeds agree across devices):
    /// returns the final latents, before they are divided by the VAE scaling factor.
    /// </summary>
    /// <param name="noise">Noise for stochastic scheduler steps (a seeded generator, or a replayed tape in parity tests).</param>
    public Tensor Denoise(string prompt, string negativePrompt, int steps, double guidanceScale, double eta, IScheduler scheduler,
        Tensor initialNoise, INoiseSource noise, IProgress<DenoisingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var count = (int)initialNoise.shape[0];
        var useGuidance = guidanceScale > 1.0;

        // Text conditioning: [negative, prompt] so that one UNet call serves both terms of the guidance.
        var promptEmbeds = EncodePrompt(prompt, count);
        var conditioning = useGuidance ? torch.cat([EncodePrompt(negativePrompt, count), promptEmbeds], 0) : promptEmbeds;

        scheduler.SetTimesteps(steps);
        var latents = initialNoise.to(float32).to(Placement.Device) * scheduler.InitNoiseSigma;

        var stepOptions = new StepOptions { Eta = eta };
        var timesteps = scheduler.Timesteps;
        var total = (int)timesteps.shape[0];
        for (var i = 0; i < total; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var step = torch.NewDisposeScope();
            var t = timesteps[i];
            var modelInput = scheduler.ScaleModelInput(useGuidance ? torch.cat([latents, latents], 0) : latents, t);
            var prediction = _unet.forward(modelInput.to(Placement.DType), t.to(Placement.Device), conditioning).to(float32);
            if (useGuidance)
            {
                // ε̃ = ε(x, ∅) + w·(ε(x, c) − ε(x, ∅))   (Ho & Salimans 2022, eq. 6)
                var halves = prediction.chunk(2, 0);
                prediction = halves[0] + guidanceScale * (halves[1] - halves[0]);
            }
            var next = scheduler.Step(prediction, t, latents, noise, stepOptions).PrevSample.MoveToOuterDisposeScope();
            latents.Dispose();
            latents = next;
            progress?.Report(new DenoisingProgress(i + 1, total));
        }
        return latents.MoveToOuterDisposeScope();
    }

    /// <summary>Decodes latents to images in [0, 1], NHWC float32 on the CPU.</summary>
    public Tensor Decode(Tensor latents)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var decoded = _vae.Decode((latents / _vae.Config.ScalingFactor).to(Placement.DType));
        return ImageTensors.ToUnitNhwc(decoded).MoveToOuterDisposeScope();
    }

    private Tensor EncodePrompt(string text, int copies)
    {
        using var scope = torch.NewDisposeScope();
        var ids = _tokenizer.Encode(text).InputIds.ToArray();
        var inputIds = torch.tensor(ids, new long[] { 1, ids.Length }, dtype: int64, device: Placement.Device);
        var hidden = _textEncoder.forward(inputIds).LastHiddenState; // (1, 77, D)
        return hidden.repeat(copies, 1, 1).MoveToOuterDisposeScope(); // (N, 77, D)
    }

    private IScheduler CreateScheduler(string? name) =>
        string.IsNullOrWhiteSpace(name) ? SchedulerRegistry.FromConfig(_schedulerConfig) : SchedulerRegistry.Create(name, _schedulerConfig);

    private void Validate(TextToImageRequest request)
    {
        var factor = VaeScaleFactor;
        if (request.Width <= 0 || request.Height <= 0 || request.Width % factor != 0 || request.Height % factor != 0)
            throw new ArgumentException($"Width and height must be positive multiples of {factor}; got {request.Width}×{request.Height}.", nameof(request));
        if (request.Steps < 1)
            throw new ArgumentException($"Steps must be at least 1; got {request.Steps}.", nameof(request));
        if (request.NumImages < 1)
            throw new ArgumentException($"NumImages must be at least 1; got {request.NumImages}.", nameof(request));
    }

    public void Dispose()
    {
        _textEncoder.Dispose();
        _unet.Dispose();
        _vae.Dispose();
    }
}
