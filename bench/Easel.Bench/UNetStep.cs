using Easel.Inference.Loading;
using Easel.Inference.Models;
using Easel.Inference.Models.UNet;
using Easel.Inference.Models.Vae;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Bench;

/// <summary>
/// Times one UNet call of a full-size model built from its real config with random weights
/// (timing needs no trained weights): batch 2, as under classifier-free guidance.
/// </summary>
internal static class UNetStep
{
    /// <summary>Builds the UNet once (float32), times every (dtype, latent size, attention backend) row, converting the weights per dtype.</summary>
    public static void RunAll(string name, string configPath, IReadOnlyList<int> latentSizes, IReadOnlyList<ScalarType> dtypes,
        IReadOnlyList<string> backends, Device device, IReadOnlyDictionary<ScalarType, double> matmulGflops, Table table, int repeats)
    {
        var config = ConfigJson.Read<UNet2DConditionConfig>(configPath);
        Console.Error.WriteLine($"building {name} UNet ({configPath}) with random weights …");
        using var unet = new UNet2DConditionModel(config);
        unet.eval();
        foreach (var dtype in dtypes)
        {
            unet.to(device).to(dtype);
            foreach (var latent in latentSizes)
                foreach (var backend in backends)
                {
                    try
                    {
                        Run(name, unet, config, latent, dtype, backend, device, matmulGflops[dtype], table, repeats);
                    }
                    catch (Exception e) when (e is OutOfMemoryException or ExternalException)
                    {
                        table.Add($"{name} UNet {latent * 8}×{latent * 8}, batch 2, {backend}", Dt(dtype), "-", "-", $"failed: {e.Message.Split('\n')[0]}");
                    }
                }
        }
    }

    private static string Dt(ScalarType dtype) => dtype.ToString().ToLowerInvariant();

    private static void Run(string name, UNet2DConditionModel unet, UNet2DConditionConfig config, int latentSize, ScalarType dtype, string backend,
        Device device, double matmulGflops, Table table, int repeats)
    {
        var processor = AttentionProcessors.For(backend);
        unet.SetAttentionProcessor(_ => processor);
        var teraFlopPerSample = FlopCount.UNet(config, latentSize) / 1e12;
        using var scope = torch.NewDisposeScope();
        const int batch = 2;
        var sample = torch.randn(batch, config.InChannels, latentSize, latentSize).to(dtype, device);
        var text = torch.randn(batch, 77, config.CrossAttentionDim.For(0, 1)).to(dtype, device);
        var timestep = torch.tensor(500L, device: device);
        var size = latentSize * 8f;
        var conditioning = config.AdditionEmbedType == "text_time"
            ? new UNetConditioning(null, null, new AddedConditions(
                torch.randn(batch, config.ProjectionClassEmbeddingsInputDim!.Value - 6 * config.AdditionTimeEmbedDim!.Value).to(dtype, device),
                torch.tensor(new[] { size, size, 0, 0, size, size }).repeat(batch, 1).to(dtype, device)))
            : null;

        var ms = Timing.MedianMs(() =>
        {
            using var inner = torch.NewDisposeScope();
            using var mode = torch.inference_mode();
            _ = unet.forward(sample, timestep, text, conditioning);
            if (device.type == DeviceType.CUDA) torch.cuda.synchronize();
        }, warmup: Timing.DefaultWarmup, repeats: repeats);
        var gflops = batch * teraFlopPerSample * 1e3 / (ms / 1e3);
        table.Add($"{name} UNet {latentSize * 8}×{latentSize * 8}, batch {batch}, {backend}", Dt(dtype), ms, gflops,
            $"{100 * gflops / matmulGflops:0}% of {Dt(dtype)} matmul; {teraFlopPerSample:0.###} TFLOP/sample (analytic)");
    }

    /// <summary>The VAE decoder from a <paramref name="latentSize"/>² latent to pixels, batch 1, per dtype and attention backend.</summary>
    public static void RunVaeDecoder(string name, string configPath, int latentSize, IReadOnlyList<ScalarType> dtypes, IReadOnlyList<string> backends,
        Device device, IReadOnlyDictionary<ScalarType, double> matmulGflops, Table table, int repeats)
    {
        var config = ConfigJson.Read<AutoencoderKLConfig>(configPath);
        using var vae = new AutoencoderKL(config);
        vae.eval();
        var teraFlop = FlopCount.VaeDecoder(config, latentSize) / 1e12;
        foreach (var dtype in dtypes)
        {
            vae.to(device).to(dtype);
            foreach (var backend in backends)
            {
                var processor = AttentionProcessors.For(backend);
                vae.SetAttentionProcessor(_ => processor);
                using var scope = torch.NewDisposeScope();
                var z = torch.randn(1, config.LatentChannels, latentSize, latentSize).to(dtype, device);
                var ms = Timing.MedianMs(() =>
                {
                    using var inner = torch.NewDisposeScope();
                    using var mode = torch.inference_mode();
                    _ = vae.Decode(z);
                    if (device.type == DeviceType.CUDA) torch.cuda.synchronize();
                }, warmup: Timing.DefaultWarmup, repeats: repeats);
                var gflops = teraFlop * 1e3 / (ms / 1e3);
                table.Add($"{name} VAE decoder → {latentSize * config.ScaleFactor}×{latentSize * config.ScaleFactor}, batch 1, {backend}", Dt(dtype), ms, gflops,
                    $"{100 * gflops / matmulGflops[dtype]:0}% of {Dt(dtype)} matmul; {teraFlop:0.###} TFLOP (analytic)");
            }
        }
    }
}
