using System.Text.Json.Nodes;
using Easel.Inference.Control.T2IAdapter;
using Easel.Inference.Loading;
using Easel.Inference.Models;
using Easel.Inference.Models.UNet;
using Easel.Inference.Shapes;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Training.Control;

/// <summary>
/// Trains the bundled T2I colour adapter (easel-shapes-t2i-color): an adapter whose features match the shapes UNet's
/// three down blocks (48, 96, 128 channels at 8, 8 and 4 pixels), fed the scene's palette map, trained with the frozen
/// UNet's diffusion loss (Mou et al. 2023, eq. 5). A third of the captions keep their colours, a third lose them and a
/// third name other colours, so that the colour must come from the map, also against the prompt; the objective further
/// empties half of all captions. The output is a diffusers
/// T2IAdapter folder (config.json + float16 safetensors).
/// </summary>
public sealed class T2IColorAdapterRecipe(string baseModelFolder, string outputFolder, string workFolder, ControlTrainingSettings settings)
{
    public const string Phase = "t2i_adapter";

    /// <summary>The share of captions whose colour words are dropped.</summary>
    public const double ColourlessCaptionRate = 1.0 / 3;

    /// <summary>The share of captions whose objects are given other colours than the scene's: the map must win over the text.</summary>
    public const double ConflictingCaptionRate = 1.0 / 3;

    /// <returns>The step the run reached.</returns>
    public int Run(IProgress<TrainingProgress>? progress, Action<string> log, CancellationToken cancellationToken = default)
    {
        using var trainer = new ShapesControlTrainer(baseModelFolder, workFolder, settings);
        var config = ConfigFor(trainer.UNet.Config);
        using var adapter = new T2IAdapterModel(ConfigJson.Parse<T2IAdapterConfig>(config.ToJsonString()));
        using (var initialization = new Generator(settings.Seed, torch.CPU))
            SeededInitialization.Redraw(adapter, initialization);
        var step = trainer.Train(Phase, [new TrainableModule(Phase, adapter)], CaptionOf,
            (batch, _, _, _) =>
            {
                var palette = batch.StackMaps(3, (i, map) => ShapesControlMaps.Palette(batch.PixelsOf(i), map));
                return new UNetConditioning(DownIntrablockResiduals: adapter.forward(palette));
            }, progress, log, cancellationToken);
        ShapesControlTrainer.Export(outputFolder, config, adapter, "Easel T2IColorAdapterRecipe", settings, step);
        log($"wrote {outputFolder} at step {step}");
        return step;
    }

    /// <summary>
    /// The scene's caption; or (at <see cref="ColourlessCaptionRate"/>) the same caption without its colours; or (at
    /// <see cref="ConflictingCaptionRate"/>) with each object's colour replaced by another one.
    /// </summary>
    public static string CaptionOf(GeneratedScene scene, Generator generator)
    {
        var draws = torch.rand([1 + scene.Spec.Objects.Count], generator: generator).data<float>().ToArray();
        if (draws[0] < ColourlessCaptionRate)
            return CaptionWriter.Write(scene.Spec with { Objects = [.. scene.Spec.Objects.Select(o => o with { Color = null })] });
        if (draws[0] >= ColourlessCaptionRate + ConflictingCaptionRate)
            return scene.Caption;
        var colours = ShapePalette.Colors;
        return CaptionWriter.Write(scene.Spec with
        {
            Objects = [.. scene.Spec.Objects.Select((o, i) => o.Color is { } c
                ? o with { Color = colours.Where(other => other != c).ElementAt((int)(draws[1 + i] * (colours.Count - 1))) }
                : o)],
        });
    }

    /// <summary>
    /// An adapter for the shapes UNet: one feature per down block at the size that block adds it (48 channels at 8 px after
    /// the first block's downsampler, as diffusers adds to blocks without attention; 96 at 8 px; 128 at 4 px). That is
    /// SDXL's UNet layout — a plain first block, then attention blocks — so the XL adapter's layout (one downsampling
    /// block, third) fits it, with the pixel unshuffle of 8 taking 64-pixel images to 8-pixel features.
    /// </summary>
    public static JsonObject ConfigFor(UNet2DConditionConfig unet) => new()
    {
        ["_class_name"] = "T2IAdapter",
        ["adapter_type"] = "full_adapter_xl",
        ["in_channels"] = 3,
        ["channels"] = new JsonArray([.. unet.BlockOutChannels.Select(c => JsonValue.Create(c))]),
        ["num_res_blocks"] = 2,
        ["downscale_factor"] = 8,
    };
}
