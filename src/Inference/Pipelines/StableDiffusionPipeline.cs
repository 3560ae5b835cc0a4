using Easel.Inference.Control.Gligen;
using Easel.Inference.Customization.Lora;
using Easel.Inference.Imaging;
using Easel.Inference.Loading;
using Easel.Inference.Loading.SingleFile;
using Easel.Inference.Models;
using Easel.Inference.Models.UNet;
using Easel.Inference.Models.Vae;
using Easel.Inference.Pipelines.Denoising;
using Easel.Inference.Runtime;
using Easel.Inference.Schedulers;
using Easel.Inference.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Pipelines;

/// <summary>
/// Latent diffusion (Rombach et al. 2022) for SD 1.x, SD 2.x and SDXL, loaded from a diffusers folder or a single file:
/// text-to-image, image-to-image (SDEdit) and inpainting, with classifier-free guidance (Ho &amp; Salimans 2022).
/// The families differ only in how prompts become UNet conditioning (<see cref="IPromptConditioner"/>); the
/// tasks differ only in how the starting latents and timesteps are prepared (<see cref="ILatentInitializer"/>) and in
/// the hooks those bring. There is one denoising loop (<see cref="Denoise"/>); methods plug into it as
/// <see cref="IDenoisingExtension"/>s of a request.
/// </summary>
public sealed class StableDiffusionPipeline : IDiffusionPipeline
{
    private readonly IPromptConditioner _conditioner;
    private readonly UNet2DConditionModel _unet;
    private readonly AutoencoderKL _vae;
    private readonly ScalarType _vaeDType;
    private readonly SchedulerConfig _schedulerConfig;

    private StableDiffusionPipeline(string folder, string family, InferenceDevice placement, IPromptConditioner conditioner,
        UNet2DConditionModel unet, AutoencoderKL vae, ScalarType vaeDType, SchedulerConfig schedulerConfig)
    {
        Folder = folder;
        Family = family;
        Placement = placement;
        _conditioner = conditioner;
        _unet = unet;
        _vae = vae;
        _vaeDType = vaeDType;
        _schedulerConfig = schedulerConfig;
    }

    /// <summary>The diffusers folder, or the single-file checkpoint, this pipeline was loaded from.</summary>
    public string Folder { get; }

    public InferenceDevice Placement { get; }

    /// <summary>"sdxl" when the folder has a second text encoder, "sd2" for linear-projection UNets, otherwise "sd15".</summary>
    public string Family { get; }

    public bool IsInpaintingModel => _unet.Config.InChannels == 2 * LatentChannels + 1;

    public int VaeScaleFactor => _vae.Config.ScaleFactor;

    /// <summary>The denoising UNet, for methods that read its config or call it themselves (ControlNet's from_unet, trainers).</summary>
    public UNet2DConditionModel UNet => _unet;

    /// <summary>The autoencoder, for methods that encode, decode or tune it (Blended Latent Diffusion's decoder optimisation).</summary>
    public AutoencoderKL Vae => _vae;

    private int LatentChannels => _vae.Config.LatentChannels;

    // The loaded models, for the fine-tune methods of this assembly that train against them (Customization/*).
    internal IPromptConditioner Conditioner => _conditioner;

    /// <summary>The tokenizer whose token positions the UNet's cross-attention keys follow (word → token maps of attention methods).</summary>
    public ClipTokenizer Tokenizer => _conditioner.Tokenizer;
    internal SchedulerConfig SchedulerConfig => _schedulerConfig;

    /// <summary>
    /// Loads every component of a diffusers folder onto the requested device. The VAE stays in float32 when
    /// the pipeline runs in half precision (float16 or bfloat16) and its config sets force_upcast. UNet and VAE attention
    /// use <see cref="PipelineOptions.Attention"/>; VAE tiling/slicing follow the options.
    /// </summary>
    public static StableDiffusionPipeline Load(string modelFolder, PipelineOptions? options = null)
    {
        string Part(string name) => Path.Combine(modelFolder, name);
        var weights = new WeightSources(
            _ => SafeTensorsWeightSource.OpenFolder(Part("unet"), "unet"),
            _ => SafeTensorsWeightSource.OpenFolder(Part("vae"), "vae"),
            Directory.Exists(Part("text_encoder")) ? _ => ClipWeights.OpenFolder(Part("text_encoder")) : null,
            Directory.Exists(Part("text_encoder_2")) ? _ => ClipWeights.OpenFolder(Part("text_encoder_2")) : null);
        return Build(modelFolder, new DiffusersFolderConfigSource(modelFolder), weights, options ?? new PipelineOptions());
    }

    /// <summary>
    /// Loads a single-file checkpoint in the original LDM key layout (what most users download), converting key names
    /// tensor by tensor while loading. Single files carry no configs, tokenizers or scheduler: they come from
    /// <paramref name="configFolder"/>, a diffusers folder of the same architecture (for example the base model's), or,
    /// when it is null, from what the family's real release ships (<see cref="DefaultConfigs"/>: SD 1.5, SD 2.1 768-v,
    /// SDXL base 1.0 and their inpainting variants).
    /// </summary>
    /// <exception cref="NotSupportedException">configFolder is null and the family has no built-in configs (the SDXL refiner).</exception>
    /// <exception cref="InvalidDataException">configFolder is null and the file's architecture differs from its family's release; the message names the keys and shapes.</exception>
    public static StableDiffusionPipeline LoadSingleFile(string checkpointPath, string? configFolder = null, PipelineOptions? options = null)
    {
        using var checkpoint = SingleFileCheckpoint.Open(checkpointPath);
        IPipelineConfigSource configs = configFolder is null ? new BuiltInConfigSource(checkpoint.Family) : new DiffusersFolderConfigSource(configFolder);
        var family = checkpoint.Family;
        var weights = new WeightSources(
            checkpoint.UNetWeights,
            checkpoint.VaeWeights,
            family.HasTextEncoder() ? checkpoint.TextEncoderWeights : null,
            family.HasTextEncoder2() ? checkpoint.TextEncoder2Weights : null);
        try
        {
            return Build(checkpointPath, configs, weights, options ?? new PipelineOptions());
        }
        catch (CheckpointMismatchException e) when (configFolder is null)
        {
            // Lead with a shape: it says at once that the file is another architecture, not a damaged one.
            var example = e.ShapeMismatches.Count > 0 ? $" ({e.ShapeMismatches[0]})" : "";
            throw new InvalidDataException(
                $"'{Path.GetFileName(checkpointPath)}' is a {family} checkpoint whose architecture differs from {configs.Name}{example}. {e.Message} " +
                "Pass the diffusers folder of its architecture as the config folder.", e);
        }
    }

    /// <summary>Where each component's tensors come from, for a model built from the given config; null = the model has no such component.</summary>
    private sealed record WeightSources(
        Func<UNet2DConditionConfig, IWeightSource> UNet,
        Func<AutoencoderKLConfig, IWeightSource> Vae,
        Func<ClipTextConfig, IWeightSource>? TextEncoder,
        Func<ClipTextConfig, IWeightSource>? TextEncoder2);

    /// <param name="source">The folder or file the weights come from, named in errors and kept as <see cref="Folder"/>.</param>
    private static StableDiffusionPipeline Build(string source, IPipelineConfigSource configs, WeightSources weights, PipelineOptions options)
    {
        var index = configs.Index;
        var placement = InferenceDevice.Resolve(options.Device, options.DType);
        var (device, dtype) = (placement.Device, placement.DType);

        var owned = new List<IDisposable>();
        T Own<T>(T item) where T : IDisposable
        {
            owned.Add(item);
            return item;
        }
        try
        {
            // The VAE first: it is the smallest model, so weights that do not fit the configs fail before the UNet's
            // gigabytes are allocated.
            var vaeConfig = configs.Vae();
            // diffusers upcasts only float16 VAEs; bfloat16 has float32's range, but its 8-bit mantissa costs image
            // quality in the decoder, so force_upcast is honoured for both half types.
            var vaeDType = dtype != ScalarType.Float32 && vaeConfig.ForceUpcast ? ScalarType.Float32 : dtype;
            var vae = Own(FromWeights(vaeConfig, weights.Vae, (c, w) => AutoencoderKL.FromWeights(c, w, device, vaeDType)));
            var unet = Own(FromWeights(configs.UNet(), weights.UNet, (c, w) => UNet2DConditionModel.FromWeights(c, w, device, dtype)));
            var processor = AttentionProcessors.For(options.Attention);
            unet.SetAttentionProcessor(_ => processor);
            vae.SetAttentionProcessor(_ => processor);
            vae.UseTiling = options.VaeTiling;
            vae.UseSlicing = options.VaeSlicing;
            if (options.VaeTileSize is { } tileSize)
                vae.TileSampleMinSize = tileSize;
            vae.TileOverlapFactor = options.VaeTileOverlap;
            var schedulerConfig = configs.Scheduler();

            IPromptConditioner conditioner;
            string family;
            if (weights.TextEncoder2 is { } textEncoder2Weights)
            {
                var tokenizer = weights.TextEncoder is null ? null : configs.Tokenizer();
                var textEncoder = tokenizer is null ? null
                    : Own(FromWeights(configs.TextEncoder(), weights.TextEncoder!, (c, w) => ClipTextModel.FromWeights(c, w, device, dtype)));
                var textEncoder2 = Own(FromWeights(configs.TextEncoder2(), textEncoder2Weights, (c, w) => ClipTextModelWithProjection.FromWeights(c, w, device, dtype)));
                var tokenizer2 = configs.Tokenizer2() ?? throw new InvalidDataException($"{configs.Name} has no tokenizer_2 for text_encoder_2.");
                var aesthetic = index.RequiresAestheticsScore ?? UNetWantsTimeIds(unet.Config, textEncoder2.Config.ProjectionDim, 5);
                if (!UNetWantsTimeIds(unet.Config, textEncoder2.Config.ProjectionDim, aesthetic ? 5 : 6))
                    throw new InvalidDataException(
                        $"'{source}': the UNet's add_embedding expects {unet.Config.ProjectionClassEmbeddingsInputDim} inputs, but addition_time_embed_dim " +
                        $"{unet.Config.AdditionTimeEmbedDim} × {(aesthetic ? 5 : 6)} time ids + text_encoder_2 projection_dim {textEncoder2.Config.ProjectionDim} " +
                        $"does not give that (requires_aesthetics_score = {aesthetic}).");
                conditioner = new SdxlPromptConditioner(tokenizer, textEncoder, tokenizer2, textEncoder2,
                    device, dtype, index.ForceZerosForEmptyPrompt ?? true, aesthetic);
                family = "sdxl";
            }
            else
            {
                var textEncoderWeights = weights.TextEncoder ?? throw new InvalidDataException($"'{source}' has no text encoder.");
                var tokenizer = configs.Tokenizer() ?? throw new InvalidDataException($"{configs.Name} has no tokenizer.");
                var textEncoder = Own(FromWeights(configs.TextEncoder(), textEncoderWeights, (c, w) => ClipTextModel.FromWeights(c, w, device, dtype)));
                conditioner = new ClipPromptConditioner(tokenizer, textEncoder, dtype);
                family = unet.Config.UseLinearProjection ? "sd2" : "sd15";
            }
            var latentChannels = vae.Config.LatentChannels;
            if (unet.Config.InChannels != latentChannels && unet.Config.InChannels != 2 * latentChannels + 1)
                throw new InvalidDataException($"'{source}': a UNet with {unet.Config.InChannels} input channels fits neither {latentChannels}-channel latents nor inpainting.");
            return new StableDiffusionPipeline(source, family, placement, conditioner, unet, vae, vaeDType, schedulerConfig);
        }
        catch
        {
            foreach (var item in owned)
                item.Dispose();
            throw;
        }
    }

    /// <summary>Builds one model from <paramref name="config"/> and its weights; folder sources own the files they open, single-file slices borrow the open checkpoint.</summary>
    private static TModel FromWeights<TConfig, TModel>(TConfig config, Func<TConfig, IWeightSource> weights, Func<TConfig, IWeightSource, TModel> build)
    {
        var source = weights(config);
        using (source as IDisposable)
            return build(config, source);
    }

    /// <summary>Whether the UNet's text_time embedding takes <paramref name="timeIds"/> ids plus the pooled text embedding.</summary>
    private static bool UNetWantsTimeIds(UNet2DConditionConfig config, int projectionDim, int timeIds) =>
        config.AdditionEmbedType == "text_time" &&
        config.AdditionTimeEmbedDim * timeIds + projectionDim == config.ProjectionClassEmbeddingsInputDim;

    public IReadOnlyList<GeneratedImage> TextToImage(TextToImageRequest request, IProgress<DenoisingProgress>? progress = null,
        CancellationToken cancellationToken = default) => Generate(request, progress, cancellationToken);

    public IReadOnlyList<GeneratedImage> ImageToImage(ImageToImageRequest request, IProgress<DenoisingProgress>? progress = null,
        CancellationToken cancellationToken = default) => Generate(request, progress, cancellationToken);

    public IReadOnlyList<GeneratedImage> Inpaint(InpaintRequest request, IProgress<DenoisingProgress>? progress = null,
        CancellationToken cancellationToken = default) => Generate(request, progress, cancellationToken);

    /// <summary>
    /// Runs a request with its noise from <see cref="CreateNoiseSource"/>, so the same request gives the same pixels on the
    /// same device: in <see cref="SeedMode.Batch"/> diffusers' images for <c>generator=torch.Generator().manual_seed(seed)</c>,
    /// in <see cref="SeedMode.PerImage"/> image i equals the single-image run with seed + i.
    /// </summary>
    public IReadOnlyList<GeneratedImage> Generate(GenerationRequest request, IProgress<DenoisingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        Validate(request);
        // no_grad rather than inference_mode: an extension may enable gradients for its own step (Attend-and-Excite).
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        using var scheduler = CreateScheduler(request); // owns its schedules; disposed with the request
        var latents = GenerateLatents(request, scheduler, CreateNoiseSource(request), null, progress, cancellationToken);
        // Per-image seeds decode image by image for the same reason the UNet runs so (PredictNoise).
        return ImageTensors.ToImages(DecodeFor(request, latents));
    }

    /// <summary>The scheduler a request asks for, configured from the model folder's scheduler config (the caller disposes it).</summary>
    public IScheduler CreateScheduler(GenerationRequest request)
    {
        var config = request.TimestepSpacing is { } spacing ? _schedulerConfig with { TimestepSpacing = spacing } : _schedulerConfig;
        return string.IsNullOrWhiteSpace(request.Scheduler) ? SchedulerRegistry.FromConfig(config) : SchedulerRegistry.Create(request.Scheduler, config);
    }

    /// <summary>
    /// The CPU generators of a request: one seeded <see cref="GenerationRequest.Seed"/> for the batch, or one per image
    /// seeded Seed + i (<see cref="GenerationRequest.SeedMode"/>).
    /// </summary>
    public static INoiseSource CreateNoiseSource(GenerationRequest request) => request.SeedMode switch
    {
        SeedMode.Batch => GeneratorNoiseSource.FromSeed(request.Seed),
        SeedMode.PerImage => PerImageNoiseSource.FromSeed(request.Seed, request.NumImages),
        _ => throw new ArgumentException($"Unknown seed mode {request.SeedMode}.", nameof(request)),
    };

    /// <summary>
    /// Prepares the starting latents and timesteps of <paramref name="request"/> (its kind's <see cref="ILatentInitializer"/>,
    /// or the one among <see cref="GenerationRequest.Extensions"/>), denoises with the request's extensions, and returns the
    /// final latents (before they are divided by the VAE scaling factor). Draw order from <paramref name="noise"/>, as
    /// diffusers: text-to-image — x_T, then the scheduler's; image-to-image — the image posterior sample, the
    /// noise added at the first timestep, then the scheduler's; inpainting — the image posterior sample (ordinary
    /// UNets, or strength &lt; 1), the starting noise, the masked-image posterior sample, then the scheduler's. The
    /// posterior samples of the one input image are drawn once and repeated over the batch
    /// (<see cref="INoiseSource.NextRepeated"/>), every other draw has the batch's size.
    /// </summary>
    /// <param name="initialNoise">Replaces the draw of the starting noise (x_T, or the noise added to the image), e.g. a
    /// parity case's in.latents; diffusers' inpainting instead ignores the image when given latents with strength &lt; 1.</param>
    public Tensor GenerateLatents(GenerationRequest request, IScheduler scheduler, INoiseSource noise, Tensor? initialNoise = null,
        IProgress<DenoisingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        Validate(request);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var count = request.NumImages;
        var (height, width) = OutputSize(request);
        long[] latentShape = [count, LatentChannels, height / VaeScaleFactor, width / VaeScaleFactor];

        var guidance = request.GuidanceScale > 1.0;
        // Before the prompt is encoded: a LoRA may target the text encoders too.
        using var loras = request.Loras is { Count: > 0 } adapters ? LoraActivation.Apply(this, adapters, request.MergeLoras) : null;
        using var prompt = request.ImagePrompts is { } prompts ? EncodeEach(request, prompts, guidance, height, width)
            : _conditioner.Encode(request, count, guidance, height, width);
        scheduler.SetTimesteps(request.Steps);

        var initializer = request.Extensions.OfType<ILatentInitializer>().LastOrDefault() ?? InitializerFor(request);
        var start = initializer.Initialize(new DenoisingSetup(this, request, scheduler, noise, latentShape, initialNoise, guidance));
        IReadOnlyList<IDenoisingExtension> extensions = [.. start.Extensions, .. request.Extensions];
        if (request.Grounding is { } grounding)
            extensions = [.. extensions, new GligenDenoisingExtension(EncodeGrounding(grounding))];
        if (progress is not null)
            extensions = [.. extensions, new ProgressReports(progress, new LatentFormat(Family, LatentChannels, _vae.Config.ScalingFactor))];
        using var processors = InstallAttentionProcessors(extensions);
        return Denoise(prompt, scheduler, start.Timesteps, start.Latents, noise, request, extensions, cancellationToken).MoveToOuterDisposeScope();
    }

    /// <summary>Each image's prompt encoded alone, the rows stacked as one batch's: [uncond × N, cond × N] with guidance.</summary>
    private PromptEmbeddings EncodeEach(GenerationRequest request, IReadOnlyList<string> prompts, bool guidance, int height, int width)
    {
        using var scope = torch.NewDisposeScope();
        var encoded = prompts.Select(p => _conditioner.Encode(request with { Prompt = p, ImagePrompts = null }, 1, guidance, height, width)).ToList();
        try
        {
            if (encoded.Select(e => e.HiddenStates.shape[1]).Distinct().Count() > 1)
                throw new ArgumentException("The image prompts encode to different numbers of 77-token windows; shorten the longer ones.", nameof(request));
            Tensor Stack(Func<PromptEmbeddings, Tensor> rows) => guidance
                ? torch.cat([.. encoded.Select(e => rows(e).chunk(2, 0)[0]), .. encoded.Select(e => rows(e).chunk(2, 0)[1])], 0)
                : torch.cat([.. encoded.Select(rows)], 0);
            var added = encoded[0].Added is null ? null
                : new AddedConditions(Stack(e => e.Added!.TextEmbeds).MoveToOuterDisposeScope(), Stack(e => e.Added!.TimeIds).MoveToOuterDisposeScope());
            return new PromptEmbeddings(Stack(e => e.HiddenStates).MoveToOuterDisposeScope(), added);
        }
        finally
        {
            foreach (var e in encoded)
                e.Dispose();
        }
    }

    private static ILatentInitializer InitializerFor(GenerationRequest request) => request switch
    {
        TextToImageRequest => TextToImageLatents.Instance,
        ImageToImageRequest r => new ImageToImageLatents(r.Image, r.Strength),
        InpaintRequest r => new InpaintLatents(r.Image, r.Mask, r.Strength),
        _ => throw new NotSupportedException($"Unknown request kind {request.GetType().Name}."),
    };

    /// <summary>
    /// A request's phrases and boxes as the position net's input (one row), with this pipeline's tokenizer and text
    /// encoder as diffusers' StableDiffusionGLIGENPipeline encodes them.
    /// </summary>
    public GligenGroundingInput EncodeGrounding(GligenGrounding grounding)
    {
        if (_unet.Config.AttentionType is not ("gated" or "gated-text-image"))
            throw new ArgumentException($"This model's UNet has no GLIGEN layers (attention_type '{_unet.Config.AttentionType}'): grounding needs a GLIGEN model.", nameof(grounding));
        if (_conditioner is not ClipPromptConditioner clip)
            throw new NotSupportedException("Grounding is built for SD 1.x/2.x GLIGEN models (one CLIP text encoder).");
        using var noGrad = torch.no_grad();
        return new GligenPhraseEncoder(clip.Tokenizer, clip.TextEncoder).Encode(grounding);
    }

    /// <summary>The UNet conditioning for <paramref name="request"/> (tests compare it with diffusers' UNet inputs).</summary>
    public PromptEmbeddings EncodePrompts(GenerationRequest request, bool guidance)
    {
        using var noGrad = torch.no_grad();
        var (height, width) = OutputSize(request);
        return _conditioner.Encode(request, request.NumImages, guidance, height, width);
    }

    /// <summary>
    /// Installs the extensions' attention processors on the UNet; disposing the result puts every module's previous
    /// processor back, so the cached model never keeps a request's controller (also after a failure or a cancel).
    /// </summary>
    private IDisposable InstallAttentionProcessors(IReadOnlyList<IDenoisingExtension> extensions)
    {
        var providers = extensions.OfType<IAttentionProcessorProvider>().ToList();
        var previous = _unet.AttentionModules().Select(a => (Module: a, a.Processor)).ToList();
        var restore = new ProcessorRestore(previous);
        try
        {
            foreach (var provider in providers)
                foreach (var attention in _unet.AttentionModules())
                    attention.Processor = provider.ProcessorFor(attention, attention.Processor);
            return restore;
        }
        catch
        {
            restore.Dispose();
            throw;
        }
    }

    private sealed class ProcessorRestore(IReadOnlyList<(Attention Module, IAttentionProcessor Processor)> previous) : IDisposable
    {
        public void Dispose()
        {
            foreach (var (module, processor) in previous)
                module.Processor = processor;
        }
    }

    /// <summary>Reports <see cref="DenoisingProgress"/> after every step (the latents valid during the call only).</summary>
    private sealed class ProgressReports(IProgress<DenoisingProgress> progress, LatentFormat format) : IStepCallback
    {
        public void OnStepEnd(DenoisingStep step, Tensor latents) =>
            progress.Report(new DenoisingProgress(step.Index + 1, step.TotalSteps) { Latents = latents, LatentFormat = format });
    }

    /// <summary>
    /// The reverse process: for each t, the latent edits before the step, ε̂ = UNet(x_t, t, c) with the contributors'
    /// conditioning — with guidance ε̂ = ε(x_t, ∅) + w·(ε(x_t, c) − ε(x_t, ∅)) (Ho &amp; Salimans 2022, eq. 6) from one
    /// batched call — then x_{t−1} = scheduler step(ε̂, t, x_t), the latent edits after the step, and the step callbacks.
    /// </summary>
    private Tensor Denoise(PromptEmbeddings prompt, IScheduler scheduler, Tensor timesteps, Tensor latents, INoiseSource noise,
        GenerationRequest request, IReadOnlyList<IDenoisingExtension> extensions, CancellationToken cancellationToken)
    {
        var guidance = request.GuidanceScale > 1.0;
        var stepOptions = new StepOptions { Eta = request.Eta };
        var total = (int)timesteps.shape[0];
        var edits = extensions.OfType<ILatentEdit>().ToList();
        var inputExtensions = extensions.OfType<IModelInputExtension>().ToList();
        var contributors = extensions.OfType<IUNetConditioningContributor>().ToList();
        var callbacks = extensions.OfType<IStepCallback>().ToList();
        var textEdits = extensions.OfType<IStepTextEmbeddings>().ToList();
        var encoded = prompt;
        for (var i = 0; i < total; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = torch.NewDisposeScope();
            if (textEdits.Count > 0)
            {
                var context = new DenoisingStep(i, timesteps, scheduler, request, encoded, noise, new AttentionContext(i, total, timesteps[i]),
                    (input, t, p, c) => PredictNoise(input, t, p, c, request), text => EncodeConditional(request, text));
                prompt = encoded with { HiddenStates = textEdits.Aggregate(encoded.HiddenStates, (h, edit) => edit.HiddenStates(context, h)) };
            }
            var step = new DenoisingStep(i, timesteps, scheduler, request, prompt, noise,
                new AttentionContext(i, total, timesteps[i]), (input, t, p, c) => PredictNoise(input, t, p, c, request),
                text => EncodeConditional(request, text));
            foreach (var edit in edits)
                latents = edit.BeforeStep(step, latents);
            var t = step.Timestep;
            var modelInput = scheduler.ScaleModelInput(guidance ? torch.cat([latents, latents], 0) : latents, t); // (B, C, h, w)
            foreach (var extension in inputExtensions)
                modelInput = extension.Extend(step, modelInput);
            var conditioning = (prompt.UNetConditioning ?? new UNetConditioning()) with { Attention = step.Attention };
            foreach (var contributor in contributors)
                conditioning = contributor.Contribute(step, modelInput, conditioning);
            var prediction = PredictNoise(modelInput, t, prompt, conditioning, request);
            if (guidance)
            {
                var halves = prediction.chunk(2, 0); // [unconditional, conditional]
                prediction = halves[0] + request.GuidanceScale * (halves[1] - halves[0]);
            }
            var next = scheduler.Step(prediction, t, latents, noise, stepOptions).PrevSample;
            foreach (var edit in edits)
                next = edit.AfterStep(step, next);
            foreach (var callback in callbacks)
                callback.OnStepEnd(step, next);
            next = next.MoveToOuterDisposeScope();
            latents.Dispose();
            latents = next;
        }
        return latents;
    }

    /// <summary><paramref name="text"/> as the only, conditional prompt of <paramref name="request"/>: its cross-attention states (1, L, D).</summary>
    private Tensor EncodeConditional(GenerationRequest request, string text)
    {
        var (height, width) = OutputSize(request);
        var encoded = _conditioner.Encode(request with { Prompt = text, Prompt2 = null, ImagePrompts = null }, 1, false, height, width);
        encoded.Added?.TextEmbeds.Dispose();
        encoded.Added?.TimeIds.Dispose();
        return encoded.HiddenStates;
    }

    /// <summary>
    /// The UNet over the model input (B, C, h, w), B = N or 2N with guidance, as float32. In <see cref="SeedMode.PerImage"/>
    /// it runs image by image (the rows of image i: its unconditional and conditional halves): batched CPU convolutions
    /// differ in the last bits with the batch size (oneDNN picks its algorithm by shape), so only separate calls make
    /// image i equal the single-image run with seed + i.
    /// </summary>
    private Tensor PredictNoise(Tensor modelInput, Tensor t, PromptEmbeddings prompt, UNetConditioning? conditioning, GenerationRequest request)
    {
        using var scope = torch.NewDisposeScope();
        var input = modelInput.to(Placement.DType);
        var timestep = t.to(Placement.Device);
        var count = request.NumImages;
        conditioning ??= prompt.UNetConditioning;
        if (request.SeedMode == SeedMode.Batch || count == 1 || modelInput.shape[0] % count != 0)
            return _unet.forward(input, timestep, prompt.HiddenStates, conditioning).to(float32).MoveToOuterDisposeScope();
        var perImage = new Tensor[count];
        for (var i = 0; i < count; i++)
        {
            var rows = torch.arange(i, input.shape[0], count, dtype: int64, device: input.device); // [i], or [i, N + i] with guidance
            perImage[i] = _unet.forward(input.index_select(0, rows), timestep, prompt.HiddenStates.index_select(0, rows.to(prompt.HiddenStates.device)),
                conditioning?.Rows(rows));
        }
        return torch.stack(perImage, 1).flatten(0, 1).to(float32).MoveToOuterDisposeScope(); // (halves, N, …) → back to the batch's row order
    }

    /// <summary>
    /// Encodes one image in [-1, 1] to scaled latents for a batch of <paramref name="count"/>: scaling_factor · (mean + std·ε),
    /// ε drawn next from <paramref name="noise"/> (<see cref="INoiseSource.NextRepeated"/>).
    /// </summary>
    public Tensor EncodeImage(Tensor image, INoiseSource noise, int count)
    {
        using var scope = torch.NewDisposeScope();
        using var posterior = _vae.Encode(image.to(_vaeDType)); // mean, std: (1, C, h, w)
        var eps = noise.NextRepeated(posterior.Mean.shape, count, float32, Placement.Device).to(posterior.Mean.dtype); // (N, C, h, w)
        return (posterior.Sample(eps).to(float32) * _vae.Config.ScalingFactor).MoveToOuterDisposeScope(); // (N, C, h, w)
    }

    /// <summary>Decodes latents to images in [0, 1], NHWC float32 on the CPU.</summary>
    public Tensor Decode(Tensor latents)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var decoded = _vae.Decode(Unscale(latents).to(_vaeDType));
        return ImageTensors.ToUnitNhwc(decoded).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Decodes a request's final latents as <see cref="Generate"/> does: image by image for per-image seeds (as the UNet runs
    /// them), the whole batch otherwise.
    /// </summary>
    public Tensor DecodeFor(GenerationRequest request, Tensor latents) =>
        request.SeedMode == SeedMode.PerImage ? torch.cat(latents.split(1).Select(Decode).ToArray(), 0) : Decode(latents);

    /// <summary>Scaled latents → the VAE's latent space (÷ scaling_factor; SDXL-style latents_mean/std undone), float32.</summary>
    public Tensor Unscale(Tensor latents)
    {
        using var scope = torch.NewDisposeScope();
        var config = _vae.Config;
        var z = latents.to(float32) / config.ScalingFactor;
        if (config.LatentsMean is { } mean && config.LatentsStd is { } std)
        {
            var shape = new long[] { 1, mean.Count, 1, 1 };
            z = z * torch.tensor(std.Select(v => (float)v).ToArray(), shape, device: z.device) +
                torch.tensor(mean.Select(v => (float)v).ToArray(), shape, device: z.device);
        }
        return z.MoveToOuterDisposeScope();
    }

    private static (int Height, int Width) OutputSize(GenerationRequest request) => request switch
    {
        TextToImageRequest r => (r.Height, r.Width),
        ImageToImageRequest r => (r.Image.Height, r.Image.Width),
        InpaintRequest r => (r.Image.Height, r.Image.Width),
        _ => throw new NotSupportedException($"Unknown request kind {request.GetType().Name}."),
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming what is wrong with <paramref name="request"/>.</summary>
    public void Validate(GenerationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        static void Require(bool ok, string message)
        {
            if (!ok)
                throw new ArgumentException(message, nameof(request));
        }
        var factor = VaeScaleFactor;
        var (height, width) = OutputSize(request);
        var sizeSource = request is TextToImageRequest ? "Width and height" : "The image's width and height";
        Require(width > 0 && height > 0 && width % factor == 0 && height % factor == 0,
            $"{sizeSource} must be positive multiples of {factor}; got {width}×{height}.");
        Require(request.Steps >= 1, $"Steps must be at least 1; got {request.Steps}.");
        Require(request.NumImages >= 1, $"NumImages must be at least 1; got {request.NumImages}.");
        Require(request.ImagePrompts is null || request.ImagePrompts.Count == request.NumImages,
            $"ImagePrompts must hold one prompt per image ({request.NumImages}); got {request.ImagePrompts?.Count}.");
        Require(double.IsFinite(request.GuidanceScale) && request.GuidanceScale >= 0, $"GuidanceScale must be a finite number ≥ 0; got {request.GuidanceScale}.");
        Require(double.IsFinite(request.Eta) && request.Eta >= 0, $"Eta must be a finite number ≥ 0; got {request.Eta}.");
        var strength = request switch { ImageToImageRequest r => r.Strength, InpaintRequest r => r.Strength, _ => 1.0 };
        Require(strength > 0 && strength <= 1, $"Strength must be in (0, 1]; got {strength}.");
        Require((int)(request.Steps * strength) >= 1,
            $"Strength {strength} of {request.Steps} steps leaves no denoising step; raise steps or strength.");
        if (request is InpaintRequest inpaint)
            Require(inpaint.Mask.Width == width && inpaint.Mask.Height == height,
                $"The mask is {inpaint.Mask.Width}×{inpaint.Mask.Height} but the image is {width}×{height}; they must match.");
        if (IsInpaintingModel && request is not InpaintRequest)
            throw new NotSupportedException($"'{Folder}' has an inpainting UNet; it needs an inpaint request (image and mask), not a {request.GetType().Name}.");
    }

    public void Dispose()
    {
        _conditioner.Dispose();
        _unet.Dispose();
        _vae.Dispose();
    }
}
