using Easel.Inference.Loading;
using Easel.Inference.Models.UNet;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Bench;

/// <summary>
/// Times one UNet call of a full-size model built from its real config with random weights
/// (timing needs no trained weights): batch 2, as under classifier-free guidance.
/// </summary>
internal static class UNetStep
{
    /// <param name="teraFlopPerSample">The analytic cost of one call per sample at this latent size.</param>
    public static void Run(string name, string configPath, int latentSize, double teraFlopPerSample, ScalarType dtype,
        Device device, double matmulGflops, Table table, int repeats)
    {
        var config = ConfigJson.Read<UNet2DConditionConfig>(configPath);
        using var unet = new UNet2DConditionModel(config);
        unet.to(device).to(dtype).eval();
        using var scope = torch.NewDisposeScope();
        const int batch = 2;
        var sample = torch.randn(batch, config.InChannels, latentSize, latentSize).to(dtype, device);
        var text = torch.randn(batch, 77, config.CrossAttentionDim.For(0, 1)).to(dtype, device);
        var timestep = torch.tensor(500L, device: device);
        var conditioning = config.AdditionEmbedType == "text_time"
            ? new UNetConditioning(null, null, new AddedConditions(
                torch.randn(batch, config.ProjectionClassEmbeddingsInputDim!.Value - 6 * config.AdditionTimeEmbedDim!.Value).to(dtype, device),
                torch.tensor(new float[] { 1024, 1024, 0, 0, 1024, 1024 }).repeat(batch, 1).to(dtype, device)))
            : null;

        var ms = Timing.MedianMs(() =>
        {
            using var inner = torch.NewDisposeScope();
            using var mode = torch.inference_mode();
            _ = unet.forward(sample, timestep, text, conditioning);
            if (device.type == DeviceType.CUDA) torch.cuda.synchronize();
        }, warmup: 1, repeats: repeats);
        var gflops = batch * teraFlopPerSample * 1e3 / (ms / 1e3);
        table.Add($"{name} UNet {latentSize * 8}×{latentSize * 8}, batch {batch}", dtype.ToString().ToLowerInvariant(), ms, gflops,
            $"{100 * gflops / matmulGflops:0}% of matmul");
    }
}
