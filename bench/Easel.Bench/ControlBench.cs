using Easel.Inference.Control.ControlNet;
using Easel.Inference.Control.Gligen;
using Easel.Inference.Control.T2IAdapter;
using Easel.Inference.Loading;
using Easel.Inference.Models;
using Easel.Inference.Models.UNet;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Bench;

/// <summary>
/// What spatial control costs per step (issue 14 §8), on an SD1.5-size UNet built from its real config with random weights
/// at 512² (64×64 latent), batch 2 as under guidance, float32: the UNet alone; the UNet with one ControlNet (the ControlNet
/// call, then the UNet with its residuals), against the analytic FLOP ratio (FlopCount.ControlNet / FlopCount.UNet); and a
/// full T2I-Adapter, whose features are computed once per generation, as a share of a 20-step generation's UNet time; and
/// (target gligen) the UNet with GLIGEN's gated layers (attention_type gated) grounding three of its 30 entity slots, against the same UNet
/// without grounding (its fusers skipped: the plain step, as after the first β·N steps).
/// </summary>
internal static class ControlBench
{
    private const int Latent = 64;
    private const int Steps = 20;

    public static void Run(string sd15Config, Device device, Table table, int repeats)
    {
        var config = ConfigJson.Read<UNet2DConditionConfig>(sd15Config);
        var controlConfig = ConfigJson.Read<ControlNetConfig>(sd15Config);
        Console.Error.WriteLine("building the SD1.5 UNet, a ControlNet of its encoder and a full T2I-Adapter with random weights …");
        using var unet = new UNet2DConditionModel(config);
        using var controlNet = new ControlNetModel(controlConfig);
        using var adapter = new T2IAdapterModel(new T2IAdapterConfig { Channels = config.BlockOutChannels, DownscaleFactor = 8 });
        foreach (var module in new nn.Module[] { unet, controlNet, adapter })
        {
            module.eval();
            module.to(device);
        }
        using var scope = torch.NewDisposeScope();
        var (sample, timestep, text) = StepInputs(config, device);
        var image = torch.rand(2, 3, Latent * 8, Latent * 8, device: device);
        double Median(Action call) => MedianMs(device, repeats, call);

        var plain = Median(() => unet.forward(sample, timestep, text, null));
        table.Add($"SD1.5 UNet {Latent * 8}×{Latent * 8}, batch 2", "float32", plain, "-", "baseline for the control rows");

        var controlled = Median(() =>
        {
            var residuals = controlNet.forward(new ControlNetInput(sample, timestep, text, image));
            unet.forward(sample, timestep, text, new UNetConditioning(Control: residuals));
        });
        var flopRatio = (FlopCount.UNet(config, Latent) + FlopCount.ControlNet(config, controlConfig.ConditioningEmbeddingOutChannels, Latent)) / FlopCount.UNet(config, Latent);
        var measured = controlled / plain;
        table.Add("SD1.5 UNet + one ControlNet, per step", "float32", controlled, "-",
            $"{measured:0.000}× the UNet; FLOP ratio {flopRatio:0.000}×; measured/FLOP {measured / flopRatio:0.000} (target within 10 %: {(Math.Abs(measured / flopRatio - 1) <= 0.10 ? "yes" : "no")})");

        var adapterMs = Median(() => adapter.call(image[..1]));
        using var features = DetachedFeatures(adapter, image[..1]);
        var adapted = Median(() => unet.forward(sample, timestep, text,
            new UNetConditioning(DownIntrablockResiduals: features.Select(f => f.expand(2, -1, -1, -1)).ToList())));
        // The per-step additions are a few elementwise adds, below the run-to-run spread of a whole UNet call, so the
        // step with features is printed beside the plain one rather than subtracted from it.
        var share = adapterMs / (Steps * plain);
        table.Add("full T2I-Adapter features, once per generation", "float32", adapterMs, "-",
            $"{share * 100:0.00} % of a {Steps}-step generation's UNet time (target ≤ 5 %); UNet step with features {adapted:0} ms vs {plain:0} ms plain");
    }

    /// <summary>The bench target <c>gligen</c>: the gated UNet's step with grounding against the same UNet's step without.</summary>
    public static void RunGligen(string sd15Config, Device device, Table table, int repeats)
    {
        var config = ConfigJson.Read<UNet2DConditionConfig>(sd15Config);
        Console.Error.WriteLine("building the SD1.5 UNet with GLIGEN's gated layers (random weights) …");
        using var gated = new UNet2DConditionModel(config with { AttentionType = "gated" });
        gated.eval();
        gated.to(device);
        using var scope = torch.NewDisposeScope();
        var (sample, timestep, text) = StepInputs(config, device);
        const int entities = 3;
        var masks = torch.zeros(2, GligenGrounding.MaxEntities, device: device);
        masks[.., ..entities] = 1;
        var grounding = new GligenGroundingInput(torch.rand(2, GligenGrounding.MaxEntities, 4, device: device), masks,
            torch.randn(2, GligenGrounding.MaxEntities, text.shape[^1], device: device));
        var ungrounded = MedianMs(device, repeats, () => gated.forward(sample, timestep, text, null));
        var grounded = MedianMs(device, repeats, () => gated.forward(sample, timestep, text, new UNetConditioning(Attention: new AttentionContext().With(grounding))));
        table.Add($"SD1.5 UNet {Latent * 8}×{Latent * 8} with GLIGEN layers, grounded, per step", "float32", grounded, "-",
            $"{grounded / ungrounded:0.000}× the same UNet ungrounded ({ungrounded:0} ms: fusers skipped, the steps after β·N)");
    }

    /// <summary>One UNet call's inputs at 512² under guidance (batch 2): random latents, a mid timestep, random text states.</summary>
    private static (Tensor Sample, Tensor Timestep, Tensor Text) StepInputs(UNet2DConditionConfig config, Device device) => (
        torch.randn(2, config.InChannels, Latent, Latent, device: device),
        torch.tensor(500L, device: device),
        torch.randn(2, 77, config.CrossAttentionDim.For(0, 1), device: device));

    /// <summary>The median time of a call in inference mode, its tensors released after each call.</summary>
    private static double MedianMs(Device device, int repeats, Action call) => Timing.MedianMs(() =>
    {
        using var inner = torch.NewDisposeScope();
        using var mode = torch.inference_mode();
        call();
        if (device.type == DeviceType.CUDA) torch.cuda.synchronize();
    }, Timing.DefaultWarmup, repeats);

    private static DisposableList DetachedFeatures(T2IAdapterModel adapter, Tensor image)
    {
        using var mode = torch.inference_mode();
        return new DisposableList(adapter.call(image).Select(f => f.DetachFromDisposeScope()).ToList());
    }

    private sealed class DisposableList(List<Tensor> items) : List<Tensor>(items), IDisposable
    {
        public void Dispose()
        {
            foreach (var item in this)
                item.Dispose();
        }
    }
}
