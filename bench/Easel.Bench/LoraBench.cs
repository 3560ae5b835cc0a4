using Easel.Inference.Customization.Lora;
using Easel.Inference.Loading;
using Easel.Inference.Models;
using Easel.Inference.Models.UNet;
using Easel.Inference.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Bench;

/// <summary>
/// What a LoRA costs at generation time (issue 13: one LoRA ≤ 1.10× the plain time; switching LoRA sets ≤ 200 ms on the
/// bundled model): an SD1.5-size UNet call (random weights, batch 2, 64×64 latent, float32) plain, with a rank-16 update
/// on every attention projection beside each layer (unmerged), and merged into the weights, plus the merge and
/// restore; on the bundled model a whole 20-step generation plain, with one LoRA merged (what the service does) and
/// unmerged, and the time to switch from one LoRA set to another (activate, run, deactivate = restore the base bits).
/// </summary>
internal static class LoraBench
{
    private static readonly string[] Projections = [".to_q", ".to_k", ".to_v", ".to_out.0"];

    public static void Run(string sd15Config, string bundledModel, Device device, Table table, int repeats)
    {
        UNetRows(sd15Config, device, table, repeats);
        BundledRows(bundledModel, table, repeats);
    }

    private static void UNetRows(string configPath, Device device, Table table, int repeats)
    {
        var config = ConfigJson.Read<UNet2DConditionConfig>(configPath);
        Console.Error.WriteLine("building the SD1.5 UNet with random weights for the LoRA rows …");
        using var unet = new UNet2DConditionModel(config);
        unet.eval();
        unet.to(device);
        using var scope = torch.NewDisposeScope();
        var sample = torch.randn(2, config.InChannels, 64, 64, device: device);
        var text = torch.randn(2, 77, config.CrossAttentionDim.For(0, 1), device: device);
        var timestep = torch.tensor(500L, device: device);
        double Call() => Timing.MedianMs(() =>
        {
            using var inner = torch.NewDisposeScope();
            using var mode = torch.inference_mode();
            _ = unet.forward(sample, timestep, text, null);
            if (device.type == DeviceType.CUDA) torch.cuda.synchronize();
        }, Timing.DefaultWarmup, repeats);

        var layers = unet.named_modules().Where(m => m.module is LoraLayer && Projections.Any(p => m.name.EndsWith(p, StringComparison.Ordinal)))
            .Select(m => (LoraLayer)m.module).ToList();
        var plain = Call();
        table.Add("SD1.5 UNet 512×512, batch 2, no LoRA", "float32", plain, "-", "baseline");
        foreach (var layer in layers)
            layer.AddAdapter(RandomUpdate(layer, 16, 1), 1.0);
        var unmerged = Call();
        table.Add($"SD1.5 UNet, rank-16 LoRA on {layers.Count} attention projections, unmerged", "float32", unmerged, "-", $"{unmerged / plain:0.000}× the plain call");
        var mergeMs = Timing.MedianMs(() =>
        {
            foreach (var layer in layers) layer.Merge();
            foreach (var layer in layers) layer.Unmerge();
        }, 1, repeats);
        foreach (var layer in layers)
            layer.Merge();
        var merged = Call();
        table.Add("SD1.5 UNet, the same LoRA merged", "float32", merged, "-", $"{merged / plain:0.000}× the plain call; merge + restore {mergeMs:0} ms once per request");
        foreach (var layer in layers)
            layer.ClearAdapters();
        // Measured again last: the first rows of a run are the slowest (allocator and cache warm-up), so the ratios
        // above would flatter the LoRA rows; both plain figures are shown.
        var plainAgain = Call();
        table.Add("SD1.5 UNet, no LoRA, measured again after the LoRA rows", "float32", plainAgain, "-",
            $"unmerged {unmerged / plainAgain:0.000}×, merged {merged / plainAgain:0.000}× this call");
    }

    private static void BundledRows(string folder, Table table, int repeats)
    {
        using var pipeline = StableDiffusionPipeline.Load(folder, new PipelineOptions("cpu", "float32"));
        var request = new TextToImageRequest("a red circle on the left", "", 64, 64, 20, 7.5, 42, "ddim");
        using var first = Adapter(pipeline, "first", 1);
        using var second = Adapter(pipeline, "second", 2);
        double Generate(TextToImageRequest r) => Timing.MedianMs(() => pipeline.Generate(r), 1, repeats);

        var plain = Generate(request);
        table.Add("easel-shapes, 20-step generation 64×64, no LoRA", "float32", plain, "-", "baseline");
        var merged = Generate(request with { Loras = [(first, 1.0)] });
        table.Add($"easel-shapes, one rank-16 LoRA ({first.Entries.Count} projections), merged", "float32", merged, "-", $"{merged / plain:0.000}× the plain generation (the service's mode)");
        var unmerged = Generate(request with { Loras = [(first, 1.0)], MergeLoras = false });
        table.Add("easel-shapes, the same LoRA unmerged", "float32", unmerged, "-", $"{unmerged / plain:0.000}× the plain generation");
        var switchMs = Timing.MedianMs(() =>
        {
            using (LoraActivation.Apply(pipeline, [(first, 1.0)], merge: true)) { }
            using (LoraActivation.Apply(pipeline, [(second, 0.8)], merge: true)) { }
        }, 1, repeats) / 2;
        table.Add("easel-shapes, switch to another LoRA set (activate + merge, then restore)", "float32", switchMs, "-", "per switch; target ≤ 200 ms");
        var plainAgain = Generate(request);
        table.Add("easel-shapes, no LoRA, measured again last", "float32", plainAgain, "-",
            $"merged {merged / plainAgain:0.000}×, unmerged {unmerged / plainAgain:0.000}× this generation");
    }

    /// <summary>A rank-16 update for every attention projection of the pipeline's UNet, random but seeded.</summary>
    private static LoraAdapter Adapter(StableDiffusionPipeline pipeline, string name, int seed)
    {
        torch.manual_seed(seed);
        var entries = pipeline.UNet.named_modules()
            .Where(m => m.module is LoraLayer && Projections.Any(p => m.name.EndsWith(p, StringComparison.Ordinal)))
            .Select(m => new LoraAdapterEntry(LoraAdapter.UNet, m.name, RandomUpdate((LoraLayer)m.module, 16, seed), m.name))
            .ToList();
        return new LoraAdapter(name, LoraFormat.Diffusers, entries);
    }

    private static LoraLayerWeights RandomUpdate(LoraLayer layer, int rank, int seed)
    {
        torch.manual_seed(seed);
        var (outFeatures, inFeatures) = (layer.Weight.shape[0], layer.Weight.shape[1]);
        var down = (torch.randn(rank, inFeatures) * 0.01).DetachFromDisposeScope();
        var up = (torch.randn(outFeatures, rank) * 0.01).DetachFromDisposeScope();
        return new LoraLayerWeights(down, up, rank);
    }
}
