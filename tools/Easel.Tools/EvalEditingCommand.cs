using System.Diagnostics;
using Easel.Inference.Editing;
using Easel.Inference.Editing.BlendedLatentDiffusion;
using Easel.Inference.Editing.Imagic;
using Easel.Inference.Editing.PromptToPrompt;
using Easel.Inference.Imaging;
using Easel.Inference.Pipelines;
using Easel.Inference.Schedulers;
using Easel.Inference.Shapes;
using TorchSharp;

namespace Easel.Tools;

/// <summary>
/// Measures the edit methods on the bundled model with held-out scenes and seeds, and prints the tables of issue 15 §2.
/// Blended Latent Diffusion: one object of a rendered scene is recoloured (even scenes) or replaced by another kind (odd
/// scenes), the mask being its box grown by 4 px, the prompt the scene's caption with that object changed; for each
/// background treatment the outside-mask PSNR against the input (with the VAE's own round trip of the input as the
/// ceiling of <c>none</c>), the share of edits whose pixels outside the feathered region are the input's bytes, the
/// share of edits where the judge finds the asked object inside the mask, and the time per edit.
/// </summary>
internal static class EvalEditingCommand
{
    private const ulong HeldOutSeed = 79_100_001;
    private const int Size = ShapeRenderer.Size;
    private const double MaskMargin = 4;

    public static int Run(Options options)
    {
        var images = options.Int("images", 40);
        var steps = options.Int("steps", 20);
        var guidance = options.Double("guidance", 7.5);
        var decoderSteps = options.Int("decoder-steps", 100);
        var saveTo = options.String("save", "");
        if (saveTo.Length > 0)
            Directory.CreateDirectory(saveTo);
        torch.set_num_threads(Math.Max(1, Environment.ProcessorCount));
        using var pipeline = StableDiffusionPipeline.Load(options.String("model", "models/easel-shapes"));
        Console.WriteLine($"eval-editing: {images} held-out scenes (scene seed {HeldOutSeed}), object 0 recoloured (even) or replaced (odd); "
            + $"mask = its box + {MaskMargin} px; 64×64, {steps} DDIM steps, guidance {guidance}, seeds 6000…; decoder optimisation {decoderSteps} steps");
        var sections = options.String("sections", "blended,p2p,inversion,imagic").Split(',', StringSplitOptions.RemoveEmptyEntries);
        if (sections.Contains("blended"))
            Blended(pipeline, images, steps, guidance, decoderSteps, saveTo);
        if (sections.Contains("inversion"))
            Inversion(pipeline, Math.Min(images, options.Int("inversions", 10)), steps, guidance, saveTo);
        if (sections.Contains("imagic"))
            Imagic(pipeline, options.Int("imagic-choose", 10), options.Int("imagic-test", 20), steps, guidance,
                new ImagicSettings(options.Int("embedding-steps", 200), options.Double("embedding-lr", 1e-2), options.Int("finetune-steps", 300),
                    options.Double("finetune-lr", 1e-4)), saveTo);
        if (sections.Contains("p2p"))
            PromptToPrompt(pipeline, images, steps, guidance, new PromptToPromptSettings(options.Double("cross-replace", 0.8),
                SelfReplaceSteps: options.Double("self-replace", 0.4)), saveTo);
        return 0;
    }

    /// <summary>The band beyond the mask left out of the second PSNR: two latent cells of the bundled model's 4× VAE.</summary>
    private const double SeamBand = 8;

    private sealed record Tally(List<double> Psnr, List<double> PsnrBeyondBand, List<bool> BytesKept, List<bool> AsAsked, List<double> Seconds)
    {
        public Tally() : this([], [], [], [], []) { }
    }

    private static void Blended(StableDiffusionPipeline pipeline, int images, int steps, double guidance, int decoderSteps, string saveTo)
    {
        var scenes = new SceneGenerator(HeldOutSeed);
        var treatments = new[] { BackgroundTreatment.PixelBlend, BackgroundTreatment.None, BackgroundTreatment.DecoderOptimization };
        var tallies = treatments.ToDictionary(t => t, _ => new Tally());
        var byEdit = treatments.ToDictionary(t => t, _ => new Dictionary<string, (int AsAsked, int Count)>());
        var roundTrip = new List<double>();
        var roundTripBeyondBand = new List<double>();
        for (var i = 0; i < images; i++)
        {
            var scene = scenes.Generate((ulong)i);
            var input = ShapeRenderer.Render(scene.Scene);
            var target = scene.Scene.Objects[0];
            var (colour, kind, edit) = i % 2 == 0
                ? (NextColour(target.Color), target.Kind, "recolour")
                : (target.Color, NextKind(target.Kind), "replace");
            var spec = scene.Spec with { Objects = [new ObjectSpec(colour, kind, scene.Spec.Objects[0].Size, scene.Spec.Objects[0].Position), .. scene.Spec.Objects.Skip(1)] };
            var prompt = CaptionWriter.Write(spec);
            var mask = EditEffects.BoxMask(target.Bounds, MaskMargin);
            var outside = EditEffects.Outside(mask);
            var beyondBand = EditEffects.Outside(EditEffects.BoxMask(target.Bounds, MaskMargin + SeamBand));
            var box = (target.Bounds.Left - MaskMargin, target.Bounds.Top - MaskMargin, target.Bounds.Right + MaskMargin, target.Bounds.Bottom + MaskMargin);
            var reconstructed = RoundTrip(pipeline, input, 6000 + i);
            roundTrip.Add(EditEffects.Psnr(reconstructed, input, outside));
            roundTripBeyondBand.Add(EditEffects.Psnr(reconstructed, input, beyondBand));
            var request = new InpaintRequest(prompt, "", InputImage.FromRgb(Size, Size, input), InputImage.FromGray(Size, Size, mask), steps, guidance,
                6000 + i, Scheduler: "ddim");
            foreach (var treatment in treatments)
            {
                var bld = new BlendedLatentDiffusionEdit(request, treatment, new DecoderOptimization(Steps: decoderSteps));
                var clock = Stopwatch.StartNew();
                var output = bld.Run(pipeline)[0].Rgb;
                var seconds = clock.Elapsed.TotalSeconds;
                using var feather = PixelBlend.Feathered(bld.EditedRegion(pipeline.VaeScaleFactor), BlendedLatentDiffusionEdit.FeatherCells * pipeline.VaeScaleFactor);
                var weights = feather.reshape(-1).data<float>().ToArray();
                var farFromMask = weights.Select(w => w == 0).ToArray();
                var t = tallies[treatment];
                t.Psnr.Add(EditEffects.Psnr(output, input, outside));
                t.PsnrBeyondBand.Add(EditEffects.Psnr(output, input, beyondBand));
                t.BytesKept.Add(EditEffects.Psnr(output, input, farFromMask) == double.PositiveInfinity);
                var asAsked = EditEffects.EditedAsAsked(output, box, colour, kind);
                t.AsAsked.Add(asAsked);
                t.Seconds.Add(seconds);
                var e = byEdit[treatment].GetValueOrDefault(edit);
                byEdit[treatment][edit] = (e.AsAsked + (asAsked ? 1 : 0), e.Count + 1);
                if (saveTo.Length > 0)
                {
                    ShapeRenderer.SavePng(input, Size, Size, Path.Combine(saveTo, $"blended {i:D3} input.png"));
                    ShapeRenderer.SavePng(output, Size, Size, Path.Combine(saveTo, $"blended {i:D3} {Name(treatment)} {prompt}.png"));
                }
            }
        }
        Console.WriteLine($"VAE round trip of the input (E then D, the edit's posterior sample): outside-mask PSNR {Mean(roundTrip)} dB, "
            + $"beyond {SeamBand} px of the mask {Mean(roundTripBeyondBand)} dB — the ceiling of background none");
        Console.WriteLine($"| background | outside-mask PSNR, mean | beyond {SeamBand} px of the mask | outside the feathered region = the input's bytes | judged as asked: all | recolour | replace | s / edit | target |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var treatment in treatments)
        {
            var t = tallies[treatment];
            var target = treatment switch
            {
                BackgroundTreatment.PixelBlend => "bytes kept 100 %; judged ≥ 80 %",
                BackgroundTreatment.None => "PSNR within 1 dB of the round trip; judged ≥ 80 %",
                _ => "PSNR above none; judged ≥ 80 %",
            };
            var edits = byEdit[treatment];
            Console.WriteLine($"| {Name(treatment)} | {Mean(t.Psnr)} dB | {Mean(t.PsnrBeyondBand)} dB | {Share(t.BytesKept.Count(b => b), t.BytesKept.Count)} | "
                + $"{Share(t.AsAsked.Count(a => a), t.AsAsked.Count)} | {Share(edits.GetValueOrDefault("recolour"))} | {Share(edits.GetValueOrDefault("replace"))} | "
                + $"{t.Seconds.Average():F2} | {target} |");
        }
    }

    /// <summary>
    /// Prompt-to-Prompt on generated sources: the source prompt is a held-out scene's caption, the edited prompt the same
    /// caption with object 0's colour (even scenes) or kind (odd scenes) swapped; the edit is judged against the edited
    /// prompt and its foreground compared with the source's (IoU), beside plain regeneration of the edited prompt from the
    /// same seed. Then re-weighting: the source prompt "edited" into itself with object 0's colour word at factor 0 — the
    /// share of images whose object 0 loses that colour.
    /// </summary>
    private static void PromptToPrompt(StableDiffusionPipeline pipeline, int images, int steps, double guidance, PromptToPromptSettings settings,
        string saveTo)
    {
        var scenes = new SceneGenerator(HeldOutSeed + 1);
        var rows = new Dictionary<string, SwapTally>();
        var (colourLost, colourKeptBefore, reweighted) = (0, 0, 0);
        var seconds = new List<double>();
        for (var i = 0; i < images; i++)
        {
            var scene = scenes.Generate((ulong)i);
            var first = scene.Spec.Objects[0];
            if (first.Color is not { } colour || first.Kind is not { } kind)
                continue;
            var swap = i % 2 == 0 ? "colour swap" : "kind swap";
            var edited = scene.Spec with { Objects = [i % 2 == 0 ? first with { Color = NextColour(colour) } : first with { Kind = NextKind(kind) }, .. scene.Spec.Objects.Skip(1)] };
            var (source, target) = (CaptionWriter.Write(scene.Spec), CaptionWriter.Write(edited));
            var seed = 7000 + i;
            var clock = Stopwatch.StartNew();
            var pair = new PromptToPromptEdit(new TextToImageRequest(target, "", Size, Size, steps, guidance, seed, "ddim"), source, settings).Run(pipeline);
            seconds.Add(clock.Elapsed.TotalSeconds);
            var plain = pipeline.Generate(new TextToImageRequest(target, "", Size, Size, steps, guidance, seed, "ddim"))[0].Rgb;
            var judged = ShapeJudge.Default.Score(pair[1].Rgb, edited).AllPresentWithColorAndShape;
            var plainJudged = ShapeJudge.Default.Score(plain, edited).AllPresentWithColorAndShape;
            var r = rows.TryGetValue(swap, out var found) ? found : rows[swap] = new SwapTally();
            r.Iou.Add(EditEffects.ForegroundIou(pair[0].Rgb, pair[1].Rgb));
            r.PlainIou.Add(EditEffects.ForegroundIou(pair[0].Rgb, plain));
            r.Judged.Add(judged);
            r.PlainJudged.Add(plainJudged);

            var colourWord = CaptionWriter.Word(colour);
            var removed = new PromptToPromptEdit(new TextToImageRequest(source, "", Size, Size, steps, guidance, seed, "ddim"), source,
                settings with { Reweight = new Dictionary<string, double> { [colourWord] = 0 } }).Run(pipeline);
            var only = new SceneSpec(first);
            if (ShapeJudge.Default.Score(removed[0].Rgb, only).Objects[0].ColorCorrect == true)
            {
                colourKeptBefore++;
                colourLost += ShapeJudge.Default.Score(removed[1].Rgb, only).Objects[0].ColorCorrect == true ? 0 : 1;
            }
            reweighted++;
            if (saveTo.Length > 0)
            {
                ShapeRenderer.SavePng(pair[0].Rgb, Size, Size, Path.Combine(saveTo, $"p2p {i:D3} source {source}.png"));
                ShapeRenderer.SavePng(pair[1].Rgb, Size, Size, Path.Combine(saveTo, $"p2p {i:D3} edit {target}.png"));
                ShapeRenderer.SavePng(plain, Size, Size, Path.Combine(saveTo, $"p2p {i:D3} plain {target}.png"));
                ShapeRenderer.SavePng(removed[1].Rgb, Size, Size, Path.Combine(saveTo, $"p2p {i:D3} reweight {colourWord} 0.png"));
            }
        }
        Console.WriteLine($"Prompt-to-Prompt (cross-replace {settings.CrossReplaceSteps}, self-replace {settings.SelfReplaceSteps}), generated sources (scene seed "
            + $"{HeldOutSeed + 1}), seeds 7000…; {seconds.Average():F2} s per source + edit pair");
        Console.WriteLine("| edit | n | judged as the edited prompt: P2P | plain regeneration, same seed | foreground IoU with the source: P2P | plain | target |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var (swap, r) in rows.OrderBy(r => r.Key))
            Console.WriteLine($"| {swap} | {r.Iou.Count} | {Share(r.Judged.Count(j => j), r.Iou.Count)} | {Share(r.PlainJudged.Count(j => j), r.Iou.Count)} | {r.Iou.Average():F3} | {r.PlainIou.Average():F3} | "
                + (swap == "colour swap" ? "judged ≥ 80 %, IoU ≥ 0.8 |" : "judged ≥ 80 % (IoU reported) |"));
        Console.WriteLine($"Re-weighting object 0's colour word by 0 (edit = source prompt): colour lost in {Share(colourLost, colourKeptBefore)} of the sources that had it "
            + $"({reweighted} pairs)");
    }

    /// <summary>
    /// Real images: rendered held-out scenes inverted under their captions (DDIM inversion, null-text inversion), then
    /// sampled back at the request's guidance; PSNR against the input beside the VAE round trip (posterior mean), the
    /// ceiling; and a colour swap of object 0 through Prompt-to-Prompt on the null-text source, judged.
    /// </summary>
    private static void Inversion(StableDiffusionPipeline pipeline, int images, int steps, double guidance, string saveTo)
    {
        var scenes = new SceneGenerator(HeldOutSeed + 2);
        var all = Enumerable.Repeat(true, Size * Size).ToArray();
        var roundTrip = new List<double>();
        // DDIM inversion, then null-text inversion at the paper's rate and at ten times it.
        var runs = new[] { (InversionMethod.Ddim, 0.0), (InversionMethod.NullText, ImageInversion.DefaultLearningRate), (InversionMethod.NullText, 10 * ImageInversion.DefaultLearningRate) };
        var psnr = runs.ToDictionary(r => r, _ => new List<double>());
        var seconds = runs.ToDictionary(r => r, _ => new List<double>());
        var inner = runs.ToDictionary(r => r, _ => 0);
        var (swapJudged, swapCount) = (0, 0);
        var swapIou = new List<double>();
        for (var i = 0; i < images; i++)
        {
            var scene = scenes.Generate((ulong)i);
            var input = ShapeRenderer.Render(scene.Scene);
            roundTrip.Add(EditEffects.Psnr(RoundTripOfMean(pipeline, input), input, all));
            foreach (var run in runs)
            {
                var clock = Stopwatch.StartNew();
                using var inversion = ImageInversion.Invert(pipeline, InputImage.FromRgb(Size, Size, input), scene.Caption, steps, guidance, run.Item1, run.Item2);
                seconds[run].Add(clock.Elapsed.TotalSeconds);
                inner[run] += inversion.InnerSteps;
                var reconstructed = pipeline.Generate(new TextToImageRequest(scene.Caption, "", Size, Size, steps, guidance, 0, "ddim") { Extensions = [inversion] })[0].Rgb;
                psnr[run].Add(EditEffects.Psnr(reconstructed, input, all));
                if (saveTo.Length > 0)
                    ShapeRenderer.SavePng(reconstructed, Size, Size, Path.Combine(saveTo, $"inversion {i:D3} {run.Item1} {run.Item2} {scene.Caption}.png"));
                if (run != runs[^1] || scene.Spec.Objects[0].Color is not { } colour)
                    continue;
                var edited = scene.Spec with { Objects = [scene.Spec.Objects[0] with { Color = NextColour(colour) }, .. scene.Spec.Objects.Skip(1)] };
                var pair = new PromptToPromptEdit(new TextToImageRequest(CaptionWriter.Write(edited), "", Size, Size, steps, guidance, 0, "ddim"), scene.Caption,
                    new PromptToPromptSettings(), inversion).Run(pipeline);
                swapJudged += ShapeJudge.Default.Score(pair[1].Rgb, edited).AllPresentWithColorAndShape ? 1 : 0;
                swapIou.Add(EditEffects.ForegroundIou(input, pair[1].Rgb));
                swapCount++;
            }
        }
        Console.WriteLine($"Inversion of {images} rendered scenes (scene seed {HeldOutSeed + 2}) under their captions, sampled back with {steps} DDIM steps at guidance {guidance}");
        Console.WriteLine("| source | PSNR against the input, mean | s / image | target |");
        Console.WriteLine("|---|---|---|---|");
        Console.WriteLine($"| VAE round trip (posterior mean), the ceiling | {Mean(roundTrip)} dB | — | — |");
        foreach (var run in runs)
            Console.WriteLine(run.Item1 == InversionMethod.Ddim
                ? $"| DDIM inversion | {Mean(psnr[run])} dB | {seconds[run].Average():F2} | — |"
                : $"| null-text inversion, lr {run.Item2:G2} ({inner[run] / Math.Max(1, images)} inner steps per image) | {Mean(psnr[run])} dB | {seconds[run].Average():F2} | within 2 dB of the round trip |");
        Console.WriteLine($"Prompt-to-Prompt colour swap of object 0 on the null-text (lr {runs[^1].Item2:G2}) sources: judged as the edited prompt in {Share(swapJudged, swapCount)}, "
            + $"foreground IoU with the input {(swapIou.Count > 0 ? swapIou.Average() : double.NaN):F3}");
    }

    /// <summary>
    /// Imagic: inputs "a red circle on the left" rendered by the world (seeded places, sizes and backgrounds), target "a blue
    /// circle"; every input is trained once (stages A and B) and rendered over an η sweep (seed 8000 + i). η is chosen on
    /// the first inputs, then the share of the others judged "a blue circle on the left" at that η is the result.
    /// </summary>
    private static void Imagic(StableDiffusionPipeline pipeline, int choose, int test, int steps, double guidance, ImagicSettings settings, string saveTo)
    {
        double[] etas = [0, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 1.0];
        var asked = new SceneSpec(new ObjectSpec(ShapeColor.Blue, ShapeKind.Circle, Position: ShapePosition.Left));
        var random = new Random(80_000_001);
        var hits = new int[choose + test, etas.Length];
        var (stageSeconds, renderSeconds) = (new List<double>(), new List<double>());
        for (var i = 0; i < choose + test; i++)
        {
            var circle = new SceneObject(ShapeKind.Circle, ShapeColor.Red, ShapeSize.Large, 9 + random.NextDouble() * 8, 20 + random.NextDouble() * 24, 7 + random.NextDouble() * 3);
            var background = ShapePalette.Backgrounds[random.Next(ShapePalette.Backgrounds.Count)];
            var input = ShapeRenderer.Render(new Scene(background, [circle]));
            var clock = Stopwatch.StartNew();
            using var session = ImagicSession.Train(pipeline, InputImage.FromRgb(Size, Size, input), "a blue circle", settings with { Seed = 8000 + i });
            stageSeconds.Add(clock.Elapsed.TotalSeconds);
            for (var e = 0; e < etas.Length; e++)
            {
                clock.Restart();
                var output = session.Render(pipeline, new TextToImageRequest("a blue circle", "", Size, Size, steps, guidance, 8000 + i, "ddim"), etas[e])[0].Rgb;
                renderSeconds.Add(clock.Elapsed.TotalSeconds);
                hits[i, e] = ShapeJudge.Default.Score(output, asked).Objects[0].Satisfied ? 1 : 0;
                if (saveTo.Length > 0)
                    ShapeRenderer.SavePng(output, Size, Size, Path.Combine(saveTo, $"imagic {i:D3} eta {etas[e]:F2}.png"));
            }
            if (saveTo.Length > 0)
                ShapeRenderer.SavePng(input, Size, Size, Path.Combine(saveTo, $"imagic {i:D3} input.png"));
        }
        int Rate(int from, int count, int e) => Enumerable.Range(from, count).Sum(i => hits[i, e]);
        var best = Enumerable.Range(0, etas.Length).MaxBy(e => (Rate(0, choose, e), -e));
        Console.WriteLine($"Imagic: \"a red circle on the left\" (rendered, seeded) → \"a blue circle\"; stage A {settings.EmbeddingSteps} steps (lr {settings.EmbeddingLearningRate:G2}), "
            + $"stage B {settings.FineTuneSteps} steps of a rank-{settings.Rank} LoRA (lr {settings.FineTuneLearningRate:G2}), batch {settings.Batch}; renders {steps} DDIM steps, guidance {guidance}");
        Console.WriteLine($"stages A + B: {stageSeconds.Average():F1} s per input (2 cores); a render: {renderSeconds.Average():F2} s");
        Console.WriteLine("| η | " + string.Join(" | ", etas.Select(e => $"{e:F2}")) + " |");
        Console.WriteLine("|---|" + string.Concat(etas.Select(_ => "---|")));
        Console.WriteLine($"| judged \"a blue circle on the left\", first {choose} inputs | " + string.Join(" | ", etas.Select((_, e) => Share(Rate(0, choose, e), choose))) + " |");
        Console.WriteLine($"| the other {test} inputs | " + string.Join(" | ", etas.Select((_, e) => Share(Rate(choose, test, e), test))) + " |");
        Console.WriteLine($"η chosen on the first {choose}: {etas[best]:F2}; on the other {test} at that η: {Share(Rate(choose, test, best), test)} (target ≥ 70 %)");
    }

    /// <summary>D(E(x)) through the posterior mean, as the inversion encodes its input.</summary>
    private static byte[] RoundTripOfMean(StableDiffusionPipeline pipeline, byte[] rgb)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var pixels = torch.tensor(rgb, [1, Size, Size, 3]).permute(0, 3, 1, 2).to(torch.float32) / 255.0f * 2 - 1;
        using var posterior = pipeline.Vae.Encode(pixels.to(pipeline.Placement.Device));
        return ImageTensors.ToImages(pipeline.Decode(posterior.Mean * pipeline.Vae.Config.ScalingFactor))[0].Rgb;
    }

    private sealed record SwapTally(List<bool> Judged, List<bool> PlainJudged, List<double> Iou, List<double> PlainIou)
    {
        public SwapTally() : this([], [], [], []) { }
    }

    /// <summary>D(E(x)) with a posterior sample seeded <paramref name="seed"/>, as the edit encodes its input.</summary>
    private static byte[] RoundTrip(StableDiffusionPipeline pipeline, byte[] rgb, long seed)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var pixels = torch.tensor(rgb, [1, Size, Size, 3]).permute(0, 3, 1, 2).to(torch.float32) / 255.0f * 2 - 1;
        var latents = pipeline.EncodeImage(pixels.to(pipeline.Placement.Device), GeneratorNoiseSource.FromSeed(seed), 1);
        return ImageTensors.ToImages(pipeline.Decode(latents))[0].Rgb;
    }

    private static ShapeColor NextColour(ShapeColor colour) =>
        ShapePalette.Colors[(ShapePalette.Colors.ToList().IndexOf(colour) + 1) % ShapePalette.Colors.Count];

    private static ShapeKind NextKind(ShapeKind kind) =>
        ShapeKinds.Trained[(ShapeKinds.Trained.ToList().IndexOf(kind) + 1) % ShapeKinds.Trained.Count];

    private static string Name(BackgroundTreatment treatment) => treatment switch
    {
        BackgroundTreatment.PixelBlend => "pixel_blend",
        BackgroundTreatment.DecoderOptimization => "decoder_optimization",
        _ => "none",
    };

    private static string Mean(List<double> values) =>
        values.All(double.IsPositiveInfinity) ? "∞" : values.Any(double.IsPositiveInfinity) ? $"∞ in {values.Count(double.IsPositiveInfinity)}, else {values.Where(double.IsFinite).Average():F2}" : $"{values.Average():F2}";

    private static string Share((int Count, int Of) t) => Share(t.Count, t.Of);

    private static string Share(int count, int of) => of == 0 ? "n/a" : $"{100.0 * count / of:F1} % ({count}/{of})";
}
