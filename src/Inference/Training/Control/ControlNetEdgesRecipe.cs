using System.Text.Json.Nodes;
using Easel.Inference.Control.ControlNet;
using Easel.Inference.Loading;
using Easel.Inference.Models.UNet;
using TorchSharp;

namespace Easel.Inference.Training.Control;

/// <summary>
/// Trains the bundled ControlNet on edge maps (easel-shapes-controlnet-edges): a copy of the shapes UNet's encoder with
/// zero convolutions (<see cref="ControlNetModel.FromUNet"/>), fed the Canny edges of each scene, trained with the frozen
/// UNet's diffusion loss while half the captions are empty (Zhang et al. 2023, §3.2–3.3). The output is a diffusers
/// ControlNetModel folder (config.json + float16 safetensors).
/// </summary>
public sealed class ControlNetEdgesRecipe(string baseModelFolder, string outputFolder, string workFolder, ControlTrainingSettings settings)
{
    public const string Phase = "controlnet";

    /// <summary>
    /// The conditioning embedding's channels: three stages, two of them downsampling, for the bundled model's 4× VAE
    /// (64-pixel images, 16-pixel latents); SD's four stages are for an 8× VAE.
    /// </summary>
    public static readonly IReadOnlyList<int> ConditioningEmbeddingChannels = [16, 32, 64];

    /// <returns>The step the run reached.</returns>
    public int Run(IProgress<TrainingProgress>? progress, Action<string> log, CancellationToken cancellationToken = default)
    {
        using var initialization = new torch.Generator(settings.Seed, torch.CPU);
        using var trainer = new ShapesControlTrainer(baseModelFolder, workFolder, settings);
        var config = ConfigFor(Path.Combine(baseModelFolder, "unet", "config.json"));
        using var controlnet = ControlNetModel.FromUNet(trainer.UNet, ConfigJson.Parse<ControlNetConfig>(config.ToJsonString()), initialization);
        var step = trainer.Train(Phase, [new TrainableModule(Phase, controlnet)], (scene, _) => scene.Caption,
            (batch, noisy, timesteps, text) =>
            {
                var edges = batch.StackMaps(3, (i, map) => ShapesControlMaps.Edges(batch.PixelsOf(i), map));
                return new UNetConditioning(Control: controlnet.forward(new ControlNetInput(noisy, timesteps, text, edges)));
            }, progress, log, cancellationToken);
        ShapesControlTrainer.Export(outputFolder, config, controlnet, "Easel ControlNetEdgesRecipe", settings, step);
        log($"wrote {outputFolder} at step {step}");
        return step;
    }

    /// <summary>A ControlNet config of the UNet's layout (diffusers' from_unet keeps the encoder's keys, drops the decoder's).</summary>
    public static JsonObject ConfigFor(string unetConfigPath)
    {
        var config = JsonNode.Parse(File.ReadAllText(unetConfigPath))!.AsObject();
        foreach (var decoderKey in new[] { "up_block_types", "out_channels", "center_input_sample", "sample_size" })
            config.Remove(decoderKey);
        config["_class_name"] = "ControlNetModel";
        config["conditioning_embedding_out_channels"] = new JsonArray([.. ConditioningEmbeddingChannels.Select(c => JsonValue.Create(c))]);
        config["controlnet_conditioning_channel_order"] = "rgb";
        config["global_pool_conditions"] = false;
        return config;
    }
}
