using System.Diagnostics;
using Easel.Inference.Pipelines;
using Easel.Inference.Shapes;
using TorchSharp;

namespace Easel.Tools;

/// <summary>
/// Scores a model with the shapes judge on fixed held-out captions and seeds (a scene-generator seed the
/// training never uses) and prints the table of issue 5: single-object colour, shape, position and size
/// rates, the two-object "both present with the right colours" rate, and the time of one image; then where objects
/// landed, which kinds were drawn, and how well the text encoder separates each attribute.
/// </summary>
internal static class EvalShapesCommand
{
    private const ulong HeldOutSeed = 77_000_001;

    public static int Run(Options options)
    {
        var model = options.String("model", "models/easel-shapes");
        var images = options.Int("images", 240);
        var steps = options.Int("steps", 20);
        var scheduler = options.String("scheduler", "ddim");
        var guidance = options.Double("guidance", 7.5);
        var saveTo = options.String("save", "");
        if (saveTo.Length > 0)
            Directory.CreateDirectory(saveTo);
        torch.set_num_threads(Math.Max(1, Environment.ProcessorCount));

        using var pipeline = StableDiffusionPipeline.Load(model, new PipelineOptions("cpu", options.String("dtype", "float32")));
        var single = new SceneGenerator(HeldOutSeed, SceneGeneratorOptions.Default with { OneObject = 1.0, TwoObjects = 0.0 });
        var pairs = new SceneGenerator(HeldOutSeed + 1, SceneGeneratorOptions.Default with { OneObject = 0.0, TwoObjects = 1.0 });
        var singleTally = new JudgeTally();
        var pairTally = new JudgeTally();
        var times = new List<double>();
        var placements = new Confusion<ShapePosition>("single object, named position → where the object was found",
            [ShapePosition.Left, ShapePosition.Right, ShapePosition.Top, ShapePosition.Bottom, ShapePosition.Centre],
            spec => spec.Position == ShapePosition.Unspecified ? null : spec.Position,
            match => ShapeLayout.Classify(match.CenterX, match.CenterY));
        var kinds = new Confusion<ShapeKind>("single object, named kind → the kind the judge found", ShapeJudge.Default.Options.Kinds,
            spec => spec.Kind, match => match.Kind);
        for (var i = 0; i < images; i++)
        {
            var isPair = i % 2 == 1;
            var scene = (isPair ? pairs : single).Generate((ulong)(i / 2));
            var request = new TextToImageRequest(scene.Caption, "", 64, 64, steps, guidance, Seed: 1000 + i, Scheduler: scheduler);
            var watch = Stopwatch.StartNew();
            var image = pipeline.TextToImage(request)[0];
            times.Add(watch.Elapsed.TotalMilliseconds);
            var verdict = ShapeJudge.Default.Score(image.Rgb, scene.Spec);
            if (saveTo.Length > 0)
                ShapeRenderer.SavePng(image.Rgb, 64, 64, Path.Combine(saveTo, $"{i:D3} {scene.Caption}{(verdict.AllCorrect ? "" : " (wrong)")}.png"));
            (isPair ? pairTally : singleTally).Add(verdict);
            if (!isPair)
            {
                placements.Add(verdict);
                kinds.Add(verdict);
            }
        }
        times.Sort();
        Console.WriteLine($"model {model}, {images} images (64×64, {steps} steps, {scheduler}, guidance {guidance}), held-out captions and seeds");
        Console.WriteLine("| metric | rate | target |");
        Console.WriteLine("|---|---|---|");
        Console.WriteLine($"| single object: colour correct | {singleTally.Color} | ≥ 90 % |");
        Console.WriteLine($"| single object: shape correct | {singleTally.Shape} | ≥ 80 % |");
        Console.WriteLine($"| single object: position correct (when named) | {singleTally.Position} | ≥ 70 % |");
        Console.WriteLine($"| single object: size correct (when named) | {singleTally.Size} | — |");
        Console.WriteLine($"| single object: object count correct | {singleTally.Count} | — |");
        Console.WriteLine($"| two objects: both present with the right colours | {pairTally.AllPresentWithColor} | report |");
        Console.WriteLine($"| two objects: both present with the right colours and shapes | {pairTally.AllPresentWithColorAndShape} | report |");
        Console.WriteLine($"| time per image, median (p90) | {times[times.Count / 2]:F0} ms ({times[(int)(times.Count * 0.9)]:F0} ms) | < 1000 ms |");
        placements.Print();
        kinds.Print();
        TextSeparation.Print(model);
        return 0;
    }
}

/// <summary>
/// For single-object captions: what was asked (a position, a kind) against what the judge found, as a table whose
/// rows are asked values and columns found ones, plus "absent" when no object matched.
/// </summary>
internal sealed class Confusion<T>(string title, IReadOnlyList<T> values, Func<ObjectSpec, T?> asked, Func<DetectedObject, T> found)
    where T : struct, Enum
{
    private readonly Dictionary<(T Asked, T? Found), int> counts = [];

    public void Add(JudgeResult verdict)
    {
        if (verdict.Objects is not [var only] || asked(only.Asked) is not { } wanted)
            return;
        T? seen = only.Match is { } match ? found(match) : null;
        counts[(wanted, seen)] = counts.GetValueOrDefault((wanted, seen)) + 1;
    }

    public void Print()
    {
        Console.WriteLine();
        Console.WriteLine(title);
        Console.WriteLine("| asked \\ found | " + string.Join(" | ", values) + " | absent |");
        Console.WriteLine("|---" + string.Concat(Enumerable.Repeat("|---", values.Count + 1)) + "|");
        foreach (var wanted in values)
        {
            var row = values.Select(seen => counts.GetValueOrDefault((wanted, seen)).ToString())
                .Append(counts.GetValueOrDefault((wanted, null)).ToString());
            Console.WriteLine($"| {wanted} | " + string.Join(" | ", row) + " |");
        }
    }
}
