using Easel.Inference.Imaging;
using Easel.Inference.Pipelines;
using Easel.Inference.Shapes;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Tools;

/// <summary>
/// How far a model is from drawing rings, judged with rings enabled (<see cref="ShapeKinds.WithRing"/>): the judge on
/// rendered rings (its own accuracy), on the same rings after the model's VAE (encode to the posterior mean, decode:
/// the ceiling any UNet on this VAE can reach), and on the model's images for ring prompts at fixed seeds (the bundled
/// model has never seen a ring, so near 0 %). A circle prompt is the control: its images must not pass for rings.
/// </summary>
internal static class EvalRingsCommand
{
    private const ulong RingSeed = 88_000_001;

    private static readonly string[] Prompts =
    [
        "a red ring", "a blue ring on the left", "a green ring", "a yellow ring at the top", "a large white ring",
        "a black ring in the centre", "a red circle",
    ];

    public static int Run(Options options)
    {
        var model = options.String("model", "models/easel-shapes");
        var perRow = options.Int("images", 16);
        var steps = options.Int("steps", 20);
        var scheduler = options.String("scheduler", "ddim");
        var guidance = options.Double("guidance", 7.5);
        var saveTo = options.String("save", "");
        if (saveTo.Length > 0)
            Directory.CreateDirectory(saveTo);
        torch.set_num_threads(Math.Max(1, Environment.ProcessorCount));
        var judge = new ShapeJudge(ShapeJudgeOptions.Default with { Kinds = ShapeKinds.WithRing });

        using var pipeline = StableDiffusionPipeline.Load(model, new PipelineOptions("cpu", options.String("dtype", "float32")));
        var rings = ShapePalette.Colors.SelectMany(c => new RingDataset(c, RingSeed).Render(perRow)).ToArray();
        var rows = new List<(string Name, RingTally Tally)>
        {
            ("rendered rings, all colours (judge accuracy)", Tally(judge, rings.Select(r => (r.Rgb, r.Item.Spec)))),
            ("rendered rings → VAE encode/decode (ceiling)", Tally(judge, rings.Select(r => (RoundTrip(pipeline, r.Rgb), r.Item.Spec)))),
        };
        for (var p = 0; p < Prompts.Length; p++)
        {
            var request = new TextToImageRequest(Prompts[p], "", 64, 64, steps, guidance, Seed: 5000 + 100 * p, Scheduler: scheduler, NumImages: perRow);
            var images = pipeline.TextToImage(request);
            var spec = CaptionParser.Parse(Prompts[p]);
            if (saveTo.Length > 0)
                for (var i = 0; i < images.Count; i++)
                    ShapeRenderer.SavePng(images[i].Rgb, 64, 64, Path.Combine(saveTo, $"{Prompts[p]} {i:D2}.png"));
            rows.Add(($"model: \"{Prompts[p]}\"", Tally(judge, images.Select(i => (i.Rgb, spec)))));
        }

        Console.WriteLine($"model {model}, judge kinds {string.Join("/", judge.Options.Kinds)}; {perRow} images per prompt (64×64, {steps} steps, {scheduler}, guidance {guidance}), " +
                          $"{rings.Length} rendered rings");
        Console.WriteLine("| images | n | judged ring | ring of the asked colour | all asked correct | kinds found (asked object) |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var (name, t) in rows)
            Console.WriteLine($"| {name} | {t.Images} | {Percent(t.Ring, t.Images)} | {Percent(t.RingWithColor, t.Images)} | {Percent(t.AllCorrect, t.Images)} | {t.KindsFound()} |");
        return 0;
    }

    private static string Percent(int count, int of) => $"{100.0 * count / of:F1} % ({count}/{of})";

    /// <summary>Encodes an image to its posterior mean and decodes it: what the VAE keeps of a ring.</summary>
    private static byte[] RoundTrip(StableDiffusionPipeline pipeline, byte[] rgb)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var chw = new float[rgb.Length];
        ShapeRenderer.ToChwFloats(rgb, chw);
        var image = tensor(chw, [1, 3, ShapeRenderer.Size, ShapeRenderer.Size]);
        using var posterior = pipeline.Vae.Encode(image);
        return ImageTensors.ToImages(ImageTensors.ToUnitNhwc(pipeline.Vae.Decode(posterior.Mean)))[0].Rgb;
    }

    private static RingTally Tally(ShapeJudge judge, IEnumerable<(byte[] Rgb, SceneSpec Spec)> images)
    {
        var tally = new RingTally();
        foreach (var (rgb, spec) in images)
            tally.Add(judge.Score(rgb, spec));
        return tally;
    }
}
