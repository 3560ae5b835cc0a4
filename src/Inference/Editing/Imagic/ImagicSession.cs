using Easel.Inference.Customization.Lora;
using Easel.Inference.Loading;
using Easel.Inference.Models;
using Easel.Inference.Pipelines;
using Easel.Inference.Pipelines.Denoising;
using Easel.Inference.Schedulers;
using Easel.Inference.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Editing.Imagic;

/// <summary>
/// An image prepared for Imagic edits (Kawar et al. 2023): the target prompt's embedding e_tgt, the embedding e_opt that
/// reconstructs the image (stage A), and the UNet's tuned weights as a LoRA (stage B). Any η and seed renders from it
/// without training again (stage C): the conditional text is η·e_tgt + (1 − η)·e_opt under the tuned model.
/// </summary>
public sealed class ImagicSession : IDisposable
{
    public ImagicSession(string targetPrompt, Tensor target, Tensor optimised, LoraAdapter tuned)
    {
        TargetPrompt = targetPrompt;
        Target = target;
        Optimised = optimised;
        Tuned = tuned;
    }

    public string TargetPrompt { get; }

    /// <summary>e_tgt, (1, 77, D) float32 on the CPU.</summary>
    public Tensor Target { get; }

    /// <summary>e_opt, (1, 77, D) float32 on the CPU.</summary>
    public Tensor Optimised { get; }

    /// <summary>The tuned UNet weights as a LoRA (stage B).</summary>
    public LoraAdapter Tuned { get; }

    /// <summary>Stage A then stage B on <paramref name="image"/> for <paramref name="targetPrompt"/>.</summary>
    public static ImagicSession Train(StableDiffusionPipeline pipeline, InputImage image, string targetPrompt, ImagicSettings settings,
        IProgress<(string Stage, int Step, int Total, double Loss)>? progress = null, CancellationToken cancellationToken = default)
    {
        using var scope = torch.NewDisposeScope();
        var device = pipeline.Placement.Device;
        var unet = pipeline.UNet;
        using var noiseSchedule = new DDPMScheduler(pipeline.SchedulerConfig);
        using var generator = new Generator((ulong)settings.Seed, CPU);
        Tensor latents, target;
        using (torch.no_grad())
        {
            var vae = pipeline.Vae;
            using var posterior = vae.Encode((image.ToRgbTensor(device) * 2 - 1).to(vae.parameters().First().dtype));
            latents = (posterior.Mean.to(float32) * vae.Config.ScalingFactor).repeat(settings.Batch, 1, 1, 1); // E(x), B timesteps per step
            using var text = pipeline.Conditioner.Encode(new TextToImageRequest(targetPrompt, "", image.Width, image.Height, 1, 1, 0), 1, false,
                image.Height, image.Width);
            target = text.HiddenStates.to(float32).detach().clone(); // e_tgt
        }

        // Stage A: e_opt = argmin_e L(x, e; θ), from e_tgt, the model frozen.
        var embedding = new TorchSharp.Modules.Parameter(target.clone(), requires_grad: true);
        using (var optimizer = torch.optim.Adam([embedding], settings.EmbeddingLearningRate))
            Optimise(optimizer, settings.EmbeddingSteps, "embedding", () => LatentDiffusionObjective.Loss(unet, noiseSchedule, latents,
                embedding.expand(settings.Batch, -1, -1).to(pipeline.Placement.DType), generator), progress, cancellationToken);
        var optimised = embedding.detach().clone();

        // Stage B: θ* = argmin_θ L(x, e_opt; θ), e_opt fixed — θ a LoRA on the attention projections, starting from zero.
        var layers = unet.named_modules().Where(m => m.module is LoraLayer && ImagicSettings.TargetModules.Any(t => m.name.EndsWith("." + t, StringComparison.Ordinal)))
            .Select(m => (m.name, Layer: (LoraLayer)m.module)).ToList();
        var updates = new List<LoraAdapterEntry>(layers.Count);
        var parameters = new List<TorchSharp.Modules.Parameter>();
        using (var initialization = new Generator((ulong)settings.Seed + 1, CPU))
        {
            foreach (var (name, layer) in layers)
            {
                var shape = layer.Weight.shape;
                var down = new TorchSharp.Modules.Parameter(SeededInitialization.DefaultUniform([settings.Rank, .. shape.Skip(1)], initialization).to(device), requires_grad: true);
                var up = new TorchSharp.Modules.Parameter(torch.zeros(shape.Length == 2 ? [shape[0], settings.Rank] : [shape[0], settings.Rank, 1, 1], device: device),
                    requires_grad: true);
                parameters.AddRange([down, up]);
                var weights = new LoraLayerWeights(down, up, settings.Rank);
                layer.AddAdapter(weights, 1.0);
                updates.Add(new LoraAdapterEntry(LoraAdapter.UNet, name, weights, $"{LoraAdapter.UNet}.{name}"));
            }
        }
        try
        {
            var fixedText = optimised.expand(settings.Batch, -1, -1).to(pipeline.Placement.DType);
            using var optimizer = torch.optim.Adam(parameters, settings.FineTuneLearningRate);
            Optimise(optimizer, settings.FineTuneSteps, "model", () => LatentDiffusionObjective.Loss(unet, noiseSchedule, latents, fixedText, generator),
                progress, cancellationToken);
        }
        finally
        {
            foreach (var (_, layer) in layers)
                layer.ClearAdapters();
        }
        var tuned = new LoraAdapter("imagic", LoraFormat.Diffusers, [.. updates.Select(u => u with
        {
            Weights = new LoraLayerWeights(u.Weights.Down.detach().cpu().clone().DetachFromDisposeScope(), u.Weights.Up.detach().cpu().clone().DetachFromDisposeScope(),
                settings.Rank),
        })]);
        return new ImagicSession(targetPrompt, target.cpu().DetachFromDisposeScope(), optimised.cpu().DetachFromDisposeScope(), tuned);
    }

    private static void Optimise(torch.optim.Optimizer optimizer, int steps, string stage, Func<Tensor> loss,
        IProgress<(string Stage, int Step, int Total, double Loss)>? progress, CancellationToken cancellationToken)
    {
        using var grad = torch.enable_grad();
        for (var step = 1; step <= steps; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = torch.NewDisposeScope();
            optimizer.zero_grad();
            var value = loss();
            value.backward();
            optimizer.step();
            progress?.Report((stage, step, steps, value.item<float>()));
        }
    }

    /// <summary>Stage C: the target prompt's generation under the tuned model with the text η·e_tgt + (1 − η)·e_opt.</summary>
    /// <param name="request">The render's size, steps, guidance, seed and scheduler; its prompt is the target prompt.</param>
    public IReadOnlyList<GeneratedImage> Render(StableDiffusionPipeline pipeline, TextToImageRequest request, double eta,
        IProgress<DenoisingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var text = new InterpolatedText(eta * Target + (1 - eta) * Optimised);
        return pipeline.Generate(request with
        {
            Prompt = TargetPrompt,
            Loras = [.. request.Loras ?? [], (Tuned, 1.0)],
            Extensions = [.. request.Extensions, text],
        }, progress, cancellationToken);
    }

    /// <summary>
    /// Writes the session as one safetensors file: <c>e_tgt</c>, <c>e_opt</c>, and per tuned UNet module
    /// <c>lora.{module}.down</c> / <c>.up</c>, the target prompt and each update's α in the metadata.
    /// </summary>
    public void Save(string path)
    {
        var tensors = new List<KeyValuePair<string, Tensor>> { new("e_tgt", Target), new("e_opt", Optimised) };
        var metadata = new Dictionary<string, string> { ["format"] = "easel.imagic_session", ["target_prompt"] = TargetPrompt };
        foreach (var entry in Tuned.Entries)
        {
            tensors.Add(new($"lora.{entry.Module}.down", entry.Weights.Down));
            tensors.Add(new($"lora.{entry.Module}.up", entry.Weights.Up));
            metadata[$"lora.{entry.Module}.alpha"] = entry.Weights.Alpha.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        SafeTensorsWriter.Write(path, tensors, metadata: metadata);
    }

    /// <summary>Reads a session <see cref="Save"/> wrote.</summary>
    public static ImagicSession Load(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        if (file.Metadata.GetValueOrDefault("format") != "easel.imagic_session" || !file.Contains("e_tgt") || !file.Contains("e_opt"))
            throw new InvalidDataException($"'{path}' is not an Imagic session (format easel.imagic_session with e_tgt and e_opt).");
        var entries = file.Keys.Where(k => k.StartsWith("lora.", StringComparison.Ordinal) && k.EndsWith(".down", StringComparison.Ordinal))
            .Select(k => k["lora.".Length..^".down".Length])
            .Select(module => new LoraAdapterEntry(LoraAdapter.UNet, module, new LoraLayerWeights(file.Load($"lora.{module}.down").to(float32),
                file.Load($"lora.{module}.up").to(float32), double.Parse(file.Metadata[$"lora.{module}.alpha"], System.Globalization.CultureInfo.InvariantCulture)),
                $"{LoraAdapter.UNet}.{module}"))
            .ToList();
        return new ImagicSession(file.Metadata["target_prompt"], file.Load("e_tgt").to(float32), file.Load("e_opt").to(float32),
            new LoraAdapter("imagic", LoraFormat.Diffusers, entries));
    }

    public void Dispose()
    {
        Target.Dispose();
        Optimised.Dispose();
        Tuned.Dispose();
    }

    /// <summary>The conditional rows of every step become the interpolated embedding.</summary>
    private sealed class InterpolatedText(Tensor embedding) : IStepTextEmbeddings, IDisposable
    {
        public Tensor HiddenStates(DenoisingStep step, Tensor hiddenStates)
        {
            var rows = step.Guidance ? hiddenStates.shape[0] / 2 : hiddenStates.shape[0];
            var conditional = embedding.to(hiddenStates.dtype).to(hiddenStates.device).expand(rows, -1, -1);
            return step.Guidance ? torch.cat([hiddenStates[..(int)rows], conditional], 0) : conditional;
        }

        public void Dispose() => embedding.Dispose();
    }
}
