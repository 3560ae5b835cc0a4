using System.Text.Json.Nodes;
using Easel.Inference.Control.Gligen;
using Easel.Inference.Customization;
using Easel.Inference.Models;
using Easel.Inference.Models.UNet;
using Easel.Inference.Shapes;
using TorchSharp;

namespace Easel.Inference.Training.Control;

/// <summary>
/// Trains the bundled GLIGEN model's grounding layers (easel-shapes-gligen): the shapes UNet rebuilt with
/// attention_type "gated" keeps its weights frozen, and only the new layers learn — a gated self-attention fuser in each
/// transformer block (zero-initialised gates, so training starts from the plain model) and the position net that turns
/// each object's phrase ("a red circle", pooled text features) and box into a grounding token (Li et al. 2023, eq. 4 is
/// this loss with the grounding tokens as the extra condition). A share of the scenes lose their grounding (every entity
/// masked) so that the null tokens classifier-free guidance runs on are learned too. The output is a full
/// StableDiffusionGLIGENPipeline folder: the base model's components and the gated UNet in float16.
/// </summary>
public sealed class GligenBoxesRecipe(string baseModelFolder, string outputFolder, string workFolder, ControlTrainingSettings settings)
{
    public const string Phase = "gligen";

    /// <summary>The share of scenes trained with no grounding (GLIGEN's authors drop it as they drop captions).</summary>
    public const double UngroundedRate = 0.1;

    /// <returns>The step the run reached.</returns>
    public int Run(IProgress<TrainingProgress>? progress, Action<string> log, CancellationToken cancellationToken = default)
    {
        var config = UNet2DConditionConfig.Load(Path.Combine(baseModelFolder, "unet")) with { AttentionType = "gated" };
        using var unet = GatedCopyOf(baseModelFolder, config, settings.Seed);
        using var trainer = new ShapesControlTrainer(baseModelFolder, workFolder, settings, unet);
        var clip = DiffusionFineTuneLoop.ClipOf(trainer.Pipeline);
        var phrases = new GligenPhraseEncoder(clip.Tokenizer, clip.TextEncoder);
        var step = trainer.Train(Phase, GroundingLayers(unet), (scene, _) => scene.Caption,
            (batch, _, _, _) => new UNetConditioning(Attention: new AttentionContext().With(Grounding(batch, phrases))),
            progress, log, cancellationToken);
        Export(unet, step);
        log($"wrote {outputFolder} at step {step}");
        return step;
    }

    /// <summary>The phrase GLIGEN is given for an object: its colour and kind ("a red circle"); the box carries size and place.</summary>
    public static string PhraseOf(SceneObject o) => CaptionWriter.Write(new ObjectSpec(o.Color, o.Kind));

    /// <summary>An object's box as GLIGEN takes it: [x0, y0, x1, y1], fractions of the canvas.</summary>
    public static float[] BoxOf(SceneObject o)
    {
        var (left, top, right, bottom) = o.Bounds;
        return [.. new[] { left, top, right, bottom }.Select(v => (float)Math.Clamp(v / Scene.CanvasSize, 0, 1))];
    }

    /// <summary>The batch's grounding input: each scene's objects, or (at <see cref="UngroundedRate"/>) none.</summary>
    private static GligenGroundingInput Grounding(ShapesControlBatch batch, GligenPhraseEncoder phrases)
    {
        var ungrounded = torch.rand([batch.Scenes.Count], generator: batch.Generator).data<float>().ToArray();
        var rows = batch.Scenes.Select((s, i) => phrases.Encode(new GligenGrounding(
            ungrounded[i] < UngroundedRate ? [] : [.. s.Scene.Objects.Select(PhraseOf)],
            ungrounded[i] < UngroundedRate ? [] : [.. s.Scene.Objects.Select(BoxOf)], Beta: 1.0))).ToList();
        return new GligenGroundingInput(
            torch.cat([.. rows.Select(r => r.Boxes)], 0),
            torch.cat([.. rows.Select(r => r.Masks)], 0),
            torch.cat([.. rows.Select(r => r.PhraseEmbeddings)], 0));
    }

    /// <summary>The shapes UNet with gated fusers and a position net: its own weights copied in, the new layers drawn from the seed.</summary>
    private static UNet2DConditionModel GatedCopyOf(string baseModelFolder, UNet2DConditionConfig gatedConfig, ulong seed)
    {
        using var plain = UNet2DConditionModel.FromPretrained(Path.Combine(baseModelFolder, "unet"));
        var gated = new UNet2DConditionModel(gatedConfig);
        using (var initialization = new torch.Generator(seed, torch.CPU))
            foreach (var layer in GroundingLayers(gated))
                SeededInitialization.Redraw(layer.Module, initialization);
        var (missing, unexpected) = gated.load_state_dict(plain.state_dict(), strict: false);
        var notGrounding = missing.Where(k => !IsGroundingLayer(k)).ToList();
        if (notGrounding.Count > 0 || unexpected.Count > 0)
            throw new InvalidOperationException(
                $"The gated UNet does not extend the plain one: missing {string.Join(", ", notGrounding)}; unexpected {string.Join(", ", unexpected)}.");
        return gated;
    }

    private static bool IsGroundingLayer(string key) => key.StartsWith("position_net.", StringComparison.Ordinal) || key.Contains(".fuser.");

    /// <summary>Every fuser (named by its checkpoint path) and the position net: what is trained.</summary>
    private static List<TrainableModule> GroundingLayers(UNet2DConditionModel unet) =>
    [
        .. unet.named_modules().Where(m => m.module is GatedSelfAttentionDense || m.name == "position_net")
            .Select(m => new TrainableModule(m.name, m.module)),
    ];

    private void Export(UNet2DConditionModel unet, int step)
    {
        Directory.CreateDirectory(outputFolder);
        foreach (var component in new[] { "scheduler", "text_encoder", "tokenizer", "vae" })
            CopyFolder(Path.Combine(baseModelFolder, component), Path.Combine(outputFolder, component));
        File.Copy(Path.Combine(baseModelFolder, "model_defaults.json"), Path.Combine(outputFolder, "model_defaults.json"), overwrite: true);
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(baseModelFolder, "model_index.json")))!.AsObject();
        index["_class_name"] = "StableDiffusionGLIGENPipeline";
        ShapesControlTrainer.WriteJson(Path.Combine(outputFolder, "model_index.json"), index);
        var unetConfig = JsonNode.Parse(File.ReadAllText(Path.Combine(baseModelFolder, "unet", "config.json")))!.AsObject();
        unetConfig["attention_type"] = "gated";
        ShapesControlTrainer.Export(Path.Combine(outputFolder, "unet"), unetConfig, unet, "Easel GligenBoxesRecipe", settings, step);
    }

    private static void CopyFolder(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (var file in Directory.GetFiles(source))
            File.Copy(file, Path.Combine(destination, Path.GetFileName(file)), overwrite: true);
    }
}
