using Easel.Inference.Control.ControlNet;
using Easel.Inference.Control.Gligen;
using Easel.Inference.Control.T2IAdapter;
using Easel.Inference.Pipelines;
using Easel.Inference.Shapes;
using Easel.Inference.Training.Control;
using TorchSharp;

namespace Easel.Tools;

/// <summary>
/// Measures the bundled control models' effects on held-out scenes and seeds (a scene-generator seed that neither the
/// base model's nor the control models' training uses), each with and without its condition, and prints the table of
/// issue 14 §7:
/// - ControlNet (edges): IoU of the condition's Canny edges with the output's, both dilated by 1 px;
/// - T2I colour adapter: with prompts that name no colour, or a conflicting one, the share of objects whose judged colour
///   is the palette map's (the scene's colour of that object);
/// - GLIGEN (boxes): the share of grounded objects whose judged object of that colour and kind has IoU ≥ 0.5 with its box,
///   on two- and three-object layouts.
/// </summary>
internal static class EvalControlCommand
{
    private const ulong HeldOutSeed = 79_000_001;
    private const int Size = ShapeRenderer.Size;

    public static int Run(Options options)
    {
        var images = options.Int("images", 48);
        var steps = options.Int("steps", 20);
        var guidance = options.Double("guidance", 7.5);
        var beta = options.Double("beta", 0.3);
        var sections = options.String("sections", "controlnet,t2i,gligen").Split(',', StringSplitOptions.RemoveEmptyEntries);
        var saveTo = options.String("save", "");
        if (saveTo.Length > 0)
            Directory.CreateDirectory(saveTo);
        torch.set_num_threads(Math.Max(1, Environment.ProcessorCount));
        var settings = new EvalSettings(images, steps, guidance, saveTo, options.Double("controlnet-scale", 1.0), options.Double("adapter-scale", 1.0));
        var rows = new List<string>();
        Console.WriteLine($"{images} held-out scenes per method (64×64, {steps} steps, ddim, guidance {guidance}), seeds 5000…");
        if (sections.Contains("controlnet"))
            rows.AddRange(ControlNetEdges(options.String("base", "models/easel-shapes"), options.String("controlnet", "models/easel-shapes-controlnet-edges"), settings));
        if (sections.Contains("t2i"))
            rows.AddRange(T2IColour(options.String("base", "models/easel-shapes"), options.String("adapter", "models/easel-shapes-t2i-color"), settings));
        if (sections.Contains("gligen"))
            rows.AddRange(GligenBoxes(options.String("gligen", "models/easel-shapes-gligen"), beta, settings));
        Console.WriteLine("| method | measure | with the condition | without | target |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var row in rows)
            Console.WriteLine(row);
        return 0;
    }

    private sealed record EvalSettings(int Images, int Steps, double Guidance, string SaveTo, double ControlNetScale, double AdapterScale)
    {
        public TextToImageRequest Request(string prompt, int index) =>
            new(prompt, "", Size, Size, Steps, Guidance, Seed: 5000 + index, Scheduler: "ddim");

        public void Save(string method, int index, string label, byte[] rgb)
        {
            if (SaveTo.Length > 0)
                ShapeRenderer.SavePng(rgb, Size, Size, Path.Combine(SaveTo, $"{method} {index:D3} {label}.png"));
        }
    }

    private static IEnumerable<string> ControlNetEdges(string baseModel, string controlNetFolder, EvalSettings settings)
    {
        using var pipeline = StableDiffusionPipeline.Load(baseModel);
        using var controlNet = ControlNetModel.FromPretrained(controlNetFolder);
        var scenes = new SceneGenerator(HeldOutSeed);
        var with = new List<double>();
        var without = new List<double>();
        for (var i = 0; i < settings.Images; i++)
        {
            var scene = scenes.Generate((ulong)i);
            var drawn = ShapeRenderer.Render(scene.Scene);
            var map = InputImage.FromRgb(Size, Size, [.. ShapesControlMaps.EdgeMask(drawn).SelectMany(e => Enumerable.Repeat(e ? (byte)255 : (byte)0, 3))]);
            var request = settings.Request(scene.Caption, i);
            var controlled = pipeline.Generate(request with { Extensions = [new ControlNetDenoisingExtension([new ControlNetUnit(controlNet, map, settings.ControlNetScale)])] })[0].Rgb;
            var plain = pipeline.Generate(request)[0].Rgb;
            with.Add(ControlEffects.EdgeIou(drawn, controlled));
            without.Add(ControlEffects.EdgeIou(drawn, plain));
            settings.Save("controlnet", i, $"{scene.Caption} with", controlled);
            settings.Save("controlnet", i, $"{scene.Caption} without", plain);
        }
        yield return $"| ControlNet edges (scale {settings.ControlNetScale}) | edge IoU (dilated 1 px), mean | {with.Average():F3} | {without.Average():F3} | ≥ 0.5 |";
        yield return $"| ControlNet edges (scale {settings.ControlNetScale}) | images with edge IoU ≥ 0.5 | {Share(with.Count(v => v >= 0.5), with.Count)} | {Share(without.Count(v => v >= 0.5), without.Count)} | — |";
    }

    private static IEnumerable<string> T2IColour(string baseModel, string adapterFolder, EvalSettings settings)
    {
        using var pipeline = StableDiffusionPipeline.Load(baseModel);
        using var adapter = T2IAdapterModel.FromPretrained(adapterFolder);
        var scenes = new SceneGenerator(HeldOutSeed + 1);
        var tallies = new Dictionary<string, (int With, int Without, int Objects)>();
        for (var i = 0; i < settings.Images; i++)
        {
            var scene = scenes.Generate((ulong)i);
            var drawn = ShapeRenderer.Render(scene.Scene);
            var palette = new float[3 * Size * Size];
            ShapesControlMaps.Palette(drawn, palette);
            using var paletteMap = torch.tensor(palette, [1, 3, Size, Size]);
            foreach (var (label, spec) in new[] { ("no colour", Recoloured(scene.Spec, _ => null)), ("a conflicting colour", Recoloured(scene.Spec, Conflicting)) })
            {
                var request = settings.Request(CaptionWriter.Write(spec), i);
                using var adapterExtension = new T2IAdapterDenoisingExtension([new T2IAdapterUnit(adapter, paletteMap, settings.AdapterScale)]);
                var adapted = pipeline.Generate(request with { Extensions = [adapterExtension] })[0].Rgb;
                var plain = pipeline.Generate(request)[0].Rgb;
                var t = tallies.GetValueOrDefault(label);
                tallies[label] = (t.With + ControlEffects.ColoursKept(scene.Scene, adapted), t.Without + ControlEffects.ColoursKept(scene.Scene, plain),
                    t.Objects + scene.Scene.Objects.Count);
                settings.Save("t2i", i, $"{request.Prompt} with", adapted);
                settings.Save("t2i", i, $"{request.Prompt} without", plain);
            }
        }
        foreach (var (label, t) in tallies)
            yield return $"| T2I colour adapter (scale {settings.AdapterScale}) | prompt names {label}: objects in the palette's colour | {Share(t.With, t.Objects)} | {Share(t.Without, t.Objects)} | ≥ 85 % |";
    }

    private static IEnumerable<string> GligenBoxes(string gligenModel, double beta, EvalSettings settings)
    {
        using var pipeline = StableDiffusionPipeline.Load(gligenModel);
        var scenes = new SceneGenerator(HeldOutSeed + 2, SceneGeneratorOptions.Default with { OneObject = 0, TwoObjects = 0.5 });
        var tallies = new Dictionary<int, (int With, int Without, int Objects)>();
        for (var i = 0; i < settings.Images; i++)
        {
            var scene = scenes.Generate((ulong)i);
            var objects = scene.Scene.Objects;
            var grounding = new GligenGrounding([.. objects.Select(GligenBoxesRecipe.PhraseOf)], [.. objects.Select(GligenBoxesRecipe.BoxOf)], beta);
            var request = settings.Request(scene.Caption, i);
            var grounded = pipeline.Generate(request with { Grounding = grounding })[0].Rgb;
            var plain = pipeline.Generate(request)[0].Rgb;
            var t = tallies.GetValueOrDefault(objects.Count);
            tallies[objects.Count] = (t.With + ControlEffects.BoxesHit(objects, grounded), t.Without + ControlEffects.BoxesHit(objects, plain), t.Objects + objects.Count);
            settings.Save("gligen", i, $"{scene.Caption} with", grounded);
            settings.Save("gligen", i, $"{scene.Caption} without", plain);
        }
        foreach (var (count, t) in tallies.OrderBy(t => t.Key))
            yield return $"| GLIGEN boxes (β {beta}) | {count}-object layouts: objects of that colour and kind with box IoU ≥ 0.5 | {Share(t.With, t.Objects)} | {Share(t.Without, t.Objects)} | ≥ 70 % |";
        var all = tallies.Values.Aggregate((With: 0, Without: 0, Objects: 0), (a, t) => (a.With + t.With, a.Without + t.Without, a.Objects + t.Objects));
        yield return $"| GLIGEN boxes (β {beta}) | all layouts | {Share(all.With, all.Objects)} | {Share(all.Without, all.Objects)} | ≥ 70 % |";
    }

    private static SceneSpec Recoloured(SceneSpec spec, Func<ShapeColor?, ShapeColor?> colour) =>
        spec with { Objects = [.. spec.Objects.Select(o => o with { Color = colour(o.Color) })] };

    /// <summary>A colour other than <paramref name="colour"/>: the palette's next one.</summary>
    private static ShapeColor? Conflicting(ShapeColor? colour) =>
        colour is { } c ? ShapePalette.Colors[(ShapePalette.Colors.ToList().IndexOf(c) + 1) % ShapePalette.Colors.Count] : null;

    private static string Share(int count, int of) => of == 0 ? "n/a" : $"{100.0 * count / of:F1} % ({count}/{of})";
}
