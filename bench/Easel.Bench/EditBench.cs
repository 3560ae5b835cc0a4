using Easel.Inference.Editing.BlendedLatentDiffusion;
using Easel.Inference.Editing.Imagic;
using Easel.Inference.Editing.PromptToPrompt;
using Easel.Inference.Pipelines;
using Easel.Inference.Shapes;

namespace Easel.Bench;

/// <summary>
/// What the edit methods cost on the bundled model (issue 15 §5), 64×64, 20 DDIM steps, guidance 7.5, on a rendered scene:
/// Blended Latent Diffusion (pixel blend) beside plain image-to-image at strength 1 (target ≤ 1.05×); a Prompt-to-Prompt
/// source + edit pair beside a plain two-image batch (target ≤ 1.3×); DDIM and null-text inversion; Imagic's stages A + B
/// at their default settings (run once).
/// </summary>
internal static class EditBench
{
    public static void Run(string bundledModel, Table table, int repeats)
    {
        using var pipeline = StableDiffusionPipeline.Load(bundledModel);
        var scene = new SceneGenerator(79_100_001).Generate(0);
        var rgb = ShapeRenderer.Render(scene.Scene);
        var image = InputImage.FromRgb(64, 64, rgb);
        var (left, top, right, bottom) = scene.Scene.Objects[0].Bounds;
        var maskBytes = new byte[64 * 64];
        for (var y = 0; y < 64; y++)
            for (var x = 0; x < 64; x++)
                maskBytes[y * 64 + x] = x >= left - 4 && x < right + 4 && y >= top - 4 && y < bottom + 4 ? (byte)255 : (byte)0;
        var mask = InputImage.FromGray(64, 64, maskBytes);
        const string prompt = "a blue square";

        var img2img = Timing.MedianMs(() => pipeline.Generate(new ImageToImageRequest(prompt, "", image, 1.0, 20, 7.5, 1, "ddim")), Timing.DefaultWarmup, repeats);
        table.Add("bundled model, image-to-image strength 1, 20 steps", "float32", img2img, "-", "baseline of the BLD row");
        var blended = Timing.MedianMs(() => new BlendedLatentDiffusionEdit(new InpaintRequest(prompt, "", image, mask, 20, 7.5, 1, Scheduler: "ddim"),
            BackgroundTreatment.PixelBlend).Run(pipeline), Timing.DefaultWarmup, repeats);
        table.Add("bundled model, Blended Latent Diffusion (pixel_blend), 20 steps", "float32", blended, "-", $"{blended / img2img:0.000}× image-to-image (target ≤ 1.05×)");
        var decoder = Timing.MedianMs(() => new BlendedLatentDiffusionEdit(new InpaintRequest(prompt, "", image, mask, 20, 7.5, 1, Scheduler: "ddim"),
            BackgroundTreatment.DecoderOptimization).Run(pipeline), 0, 1);
        table.Add("bundled model, BLD with decoder_optimization (100 steps)", "float32", decoder, "-", $"{decoder / img2img:0.000}× image-to-image");

        var pair = new TextToImageRequest("a large purple circle", "", 64, 64, 20, 7.5, 1, "ddim");
        var plainPair = Timing.MedianMs(() => pipeline.Generate(pair with { NumImages = 2, SeedMode = SeedMode.Batch }), Timing.DefaultWarmup, repeats);
        table.Add("bundled model, plain 2-image batch, 20 steps", "float32", plainPair, "-", "baseline of the P2P row");
        var p2p = Timing.MedianMs(() => new PromptToPromptEdit(pair, "a large blue circle", new PromptToPromptSettings()).Run(pipeline), Timing.DefaultWarmup, repeats);
        table.Add("bundled model, Prompt-to-Prompt source + edit, 20 steps", "float32", p2p, "-", $"{p2p / plainPair:0.000}× the plain pair (target ≤ 1.3×)");

        foreach (var method in new[] { InversionMethod.Ddim, InversionMethod.NullText })
        {
            var ms = Timing.MedianMs(() => ImageInversion.Invert(pipeline, image, scene.Caption, 20, 7.5, method).Dispose(), 0, 1);
            table.Add($"bundled model, {method} inversion, 20 steps", "float32", ms, "-", method == InversionMethod.NullText ? "≤ 10 inner steps per step" : "-");
        }

        var settings = new ImagicSettings();
        var imagic = Timing.MedianMs(() => ImagicSession.Train(pipeline, image, "a blue circle", settings).Dispose(), 0, 1);
        table.Add($"bundled model, Imagic stages A ({settings.EmbeddingSteps}) + B ({settings.FineTuneSteps}), batch {settings.Batch}", "float32", imagic, "-",
            "target ≤ 5 min on 2 cores");
    }
}
