namespace Easel.Inference.Shapes;

/// <summary>How the judge measured a detected object.</summary>
/// <param name="Mass">Σα over the object's window: its area in pixels, preserved by blur.</param>
/// <param name="Scale">Scale of the best-fitting template (comparable with <see cref="SceneObject.Scale"/>).</param>
/// <param name="Width">Bounding-box width of that template; <paramref name="Height"/> its height.</param>
/// <param name="TemplateIou">Soft IoU of the coverage map with the best template (1 = perfect).</param>
/// <param name="RunnerUpIou">Soft IoU of the best template of any other kind: a small margin means an ambiguous shape.</param>
public sealed record ShapeFeatures(double Mass, double Scale, double Width, double Height, double TemplateIou, double RunnerUpIou);

/// <summary>An object the judge found in an image.</summary>
/// <param name="CenterX">Bounding-box centre of the fitted template (sub-pixel), comparable with <see cref="SceneObject.CenterX"/>.</param>
/// <param name="MeanColor">Mean colour of the object's core pixels; <paramref name="ColorDistance"/> is its distance to <paramref name="Color"/>.</param>
public sealed record DetectedObject(
    ShapeColor Color, ShapeKind Kind, ShapeSize Size, ShapePosition Position,
    double CenterX, double CenterY, int PixelCount, Rgb MeanColor, double ColorDistance, ShapeFeatures Features)
{
    public bool IsAt(ShapePosition position) => ShapeLayout.IsAt(position, CenterX, CenterY);
}

/// <summary>The judge's analysis of an image: its estimated background and the objects found, left to right.</summary>
public sealed record ImageAnalysis(Rgb Background, IReadOnlyList<DetectedObject> Objects);

/// <summary>How one asked object fared. Criteria not asked are null; an absent object fails every asked criterion.</summary>
public sealed record ObjectVerdict(
    ObjectSpec Asked, DetectedObject? Match, bool? ColorCorrect, bool? KindCorrect, bool? SizeCorrect, bool? PositionCorrect)
{
    public bool Present => Match is not null;

    /// <summary>Present and every asked criterion correct.</summary>
    public bool Satisfied => Present && ColorCorrect != false && KindCorrect != false && SizeCorrect != false && PositionCorrect != false;
}

/// <summary>
/// A scored image. Each criterion is aggregated over the asked objects (true when all asked objects meet it) and is
/// null when the caption did not ask it, so that benchmarks can count rates over the images where it applies
/// (see <see cref="JudgeTally"/>).
/// </summary>
public sealed record JudgeResult(
    SceneSpec Spec, ImageAnalysis Analysis, IReadOnlyList<ObjectVerdict> Objects,
    bool CountCorrect, bool? ColorCorrect, bool? ShapeCorrect, bool? SizeCorrect, bool? PositionCorrect, bool? RelationCorrect)
{
    /// <summary>Every asked object is present with the asked colour (the two-object metric of issue 5).</summary>
    public bool AllPresentWithColor => Objects.All(o => o.Present && o.ColorCorrect != false);

    /// <summary>Every asked object is present with the asked colour and kind.</summary>
    public bool AllPresentWithColorAndShape => Objects.All(o => o.Present && o.ColorCorrect != false && o.KindCorrect != false);

    /// <summary>Everything asked is correct, including the object count and the relation.</summary>
    public bool AllCorrect => CountCorrect && Objects.All(o => o.Satisfied) && RelationCorrect != false;
}

/// <summary>Thresholds of the judge. The defaults were tuned on clean, noisy and blurred renders of the shapes world.</summary>
public sealed record ShapeJudgeOptions
{
    /// <summary>A pixel is foreground when its RGB distance from the background exceeds this.</summary>
    public double ForegroundDistance { get; init; } = 40;

    /// <summary>Components with fewer pixels are noise.</summary>
    public int MinPixels { get; init; } = 12;

    /// <summary>
    /// Components whose best template matches worse than this are dropped: noise blobs whose colour is far from their
    /// nearest palette colour project to almost no coverage (IoU ≈ 0), while real objects, even blurred, score ≥ 0.6.
    /// </summary>
    public double MinTemplateIou { get; init; } = 0.25;

    /// <summary>Scale factors tried around the scale implied by the object's mass when fitting templates.</summary>
    public IReadOnlyList<double> TemplateScales { get; init; } = [1.0];

    /// <summary>How many 3×3 box-blur passes the templates are also tried with (0 = sharp only).</summary>
    public int TemplateBlurs { get; init; } = 2;

    /// <summary>
    /// The kinds whose templates are fitted (at least two: the runner-up measures ambiguity). Defaults to the bundled
    /// model's four, so existing verdicts stay as they were; <see cref="ShapeKinds.WithRing"/> also recognises rings.
    /// </summary>
    public IReadOnlyList<ShapeKind> Kinds { get; init; } = ShapeKinds.Trained;

    /// <summary>
    /// A ring fit stands only when the mean coverage of its hole's centre is below this (0 = background, 1 = colour);
    /// otherwise the object is the best other kind.
    /// </summary>
    public double MaxRingHoleCoverage { get; init; } = 0.3;

    public static ShapeJudgeOptions Default { get; } = new();
}

/// <summary>
/// A deterministic judge for 64×64 RGB images of the shapes world (clean renders or a model's noisy, blurry output).
/// <list type="number">
/// <item>Background: per-channel median of the one-pixel border (refined per object from the ring around it).</item>
/// <item>Foreground: RGB distance from the background above a threshold; 8-connected components above a minimum size,
/// split by colour when touching objects of different colours merged.</item>
/// <item>Per component: the core (pixels at ≥ 70 % of the component's 90th-percentile distance) gives the mean colour,
/// classified by the nearest palette colour; coverage α = projection of (pixel − local background) on (palette colour −
/// local background). Components that fit no template (noise blobs) are dropped.</item>
/// <item>Shape: the kind whose anti-aliased template (sharp or blurred, at the scale its mass implies, centroid on the
/// observed centroid) has the highest soft IoU with the coverage map. The fitted template gives the bounding box:
/// size from its scale, position from its centre by thirds.</item>
/// </list>
/// <see cref="Score(ReadOnlySpan{byte}, SceneSpec)"/> matches the asked objects to the detected ones (the assignment that
/// agrees on most asked attributes, colour first) and reports each criterion.
/// </summary>
public sealed class ShapeJudge(ShapeJudgeOptions? options = null)
{
    public const int Size = Scene.CanvasSize;

    public static ShapeJudge Default { get; } = new();

    public ShapeJudgeOptions Options { get; } = options is { Kinds.Count: < 2 }
        ? throw new ArgumentException("The judge needs at least two kinds to fit.", nameof(options))
        : options ?? ShapeJudgeOptions.Default;

    /// <summary>Scores an image (64·64·3 bytes, HWC RGB) against a caption.</summary>
    public JudgeResult Score(ReadOnlySpan<byte> rgb, string caption) => Score(rgb, CaptionParser.Parse(caption));

    /// <summary>Scores an image (64·64·3 bytes, HWC RGB) against what a caption asks.</summary>
    public JudgeResult Score(ReadOnlySpan<byte> rgb, SceneSpec spec) => Score(Analyze(rgb), spec);

    /// <summary>Scores a square image whose side is a multiple of 64 (e.g. 512), box-downscaled to 64×64 first.</summary>
    public JudgeResult Score(ReadOnlySpan<byte> rgb, int width, int height, SceneSpec spec) =>
        Score(width == Size && height == Size ? rgb : Downscale(rgb, width, height), spec);

    /// <summary>Box-averages a square HWC RGB image whose side is a multiple of 64 down to 64×64.</summary>
    public static byte[] Downscale(ReadOnlySpan<byte> rgb, int width, int height)
    {
        if (width != height || width % Size != 0 || rgb.Length != width * height * 3)
            throw new ArgumentException($"Expected a square RGB image whose side is a multiple of {Size}; got {width}×{height} ({rgb.Length} bytes).");
        int f = width / Size;
        var result = new byte[Size * Size * 3];
        for (int y = 0; y < Size; y++)
            for (int x = 0; x < Size; x++)
                for (int c = 0; c < 3; c++)
                {
                    int sum = 0;
                    for (int dy = 0; dy < f; dy++)
                        for (int dx = 0; dx < f; dx++)
                            sum += rgb[3 * ((y * f + dy) * width + x * f + dx) + c];
                    result[3 * (y * Size + x) + c] = (byte)((sum + f * f / 2) / (f * f));
                }
        return result;
    }

    /// <summary>Scores an existing analysis against what a caption asks.</summary>
    public static JudgeResult Score(ImageAnalysis analysis, SceneSpec spec)
    {
        var detected = analysis.Objects;
        var asked = spec.Objects;
        var assignment = BestAssignment(asked, detected, spec.Relation);
        var verdicts = new ObjectVerdict[asked.Count];
        for (int k = 0; k < asked.Count; k++)
        {
            var a = asked[k];
            var m = assignment[k] >= 0 ? detected[assignment[k]] : null;
            verdicts[k] = new ObjectVerdict(a, m,
                a.Color is { } c ? m?.Color == c : null,
                a.Kind is { } kind ? m?.Kind == kind : null,
                a.Size is { } s ? m?.Size == s : null,
                a.Position != ShapePosition.Unspecified ? m?.IsAt(a.Position) == true : null);
        }
        bool? relation = null;
        if (spec.Relation is { } rel && rel.Subject < verdicts.Length && rel.Object < verdicts.Length)
        {
            var (s, o) = (verdicts[rel.Subject].Match, verdicts[rel.Object].Match);
            relation = s is not null && o is not null && ShapeLayout.Holds(rel.Relation, s.CenterX, s.CenterY, o.CenterX, o.CenterY);
        }
        return new JudgeResult(spec, analysis, verdicts,
            CountCorrect: detected.Count == asked.Count,
            ColorCorrect: All(verdicts, v => v.ColorCorrect),
            ShapeCorrect: All(verdicts, v => v.KindCorrect),
            SizeCorrect: All(verdicts, v => v.SizeCorrect),
            PositionCorrect: All(verdicts, v => v.PositionCorrect),
            RelationCorrect: relation);
    }

    private static bool? All(ObjectVerdict[] verdicts, Func<ObjectVerdict, bool?> criterion)
    {
        bool? result = null;
        foreach (var v in verdicts)
            if (criterion(v) is { } b) result = (result ?? true) && b;
        return result;
    }

    /// <summary>For each asked object the index of its detected object (or −1), maximizing agreement (colour, then kind, size,
    /// position, then the relation); exhaustive for ≤ 4 asked objects.</summary>
    private static int[] BestAssignment(IReadOnlyList<ObjectSpec> asked, IReadOnlyList<DetectedObject> detected, RelationSpec? relation)
    {
        var best = Enumerable.Repeat(-1, asked.Count).ToArray();
        var current = (int[])best.Clone();
        var used = new bool[detected.Count];
        double bestScore = double.NegativeInfinity;

        static double Agreement(ObjectSpec a, DetectedObject d) =>
            1 + (a.Color == d.Color ? 8 : 0) + (a.Kind == d.Kind ? 4 : 0) + (a.Size == d.Size ? 2 : 0)
            + (a.Position != ShapePosition.Unspecified && d.IsAt(a.Position) ? 1 : 0);

        if (asked.Count > 4)
        {
            // Greedy for long prompts: each asked object takes its best free detection.
            for (int k = 0; k < asked.Count; k++)
            {
                int arg = -1;
                double s = 0;
                for (int j = 0; j < detected.Count; j++)
                    if (!used[j] && Agreement(asked[k], detected[j]) > s) (arg, s) = (j, Agreement(asked[k], detected[j]));
                if (arg >= 0) used[arg] = true;
                best[k] = arg;
            }
            return best;
        }

        void Search(int k, double score)
        {
            if (k == asked.Count)
            {
                // Between otherwise equal readings (two red stars), prefer the one in which the asked relation holds.
                if (relation is { } r && r.Subject < current.Length && r.Object < current.Length
                    && current[r.Subject] >= 0 && current[r.Object] >= 0)
                {
                    var (a, b) = (detected[current[r.Subject]], detected[current[r.Object]]);
                    if (ShapeLayout.Holds(r.Relation, a.CenterX, a.CenterY, b.CenterX, b.CenterY)) score += 0.5;
                }
                if (score > bestScore) (bestScore, best) = (score, (int[])current.Clone());
                return;
            }
            for (int j = 0; j < detected.Count; j++)
            {
                if (used[j]) continue;
                used[j] = true;
                current[k] = j;
                Search(k + 1, score + Agreement(asked[k], detected[j]));
                used[j] = false;
            }
            current[k] = -1;
            Search(k + 1, score);
        }

        Search(0, 0);
        return best;
    }

    /// <summary>Finds the objects in an image (64·64·3 bytes, HWC RGB).</summary>
    public ImageAnalysis Analyze(ReadOnlySpan<byte> rgb)
    {
        const int n = Size * Size;
        if (rgb.Length != n * 3)
            throw new ArgumentException($"The judge reads {Size}×{Size} RGB images ({n * 3} bytes); got {rgb.Length} bytes.", nameof(rgb));

        var bg = EstimateBackground(rgb);
        var dist = new double[n];
        for (int i = 0; i < n; i++)
        {
            double dr = rgb[3 * i] - bg.R, dg = rgb[3 * i + 1] - bg.G, db = rgb[3 * i + 2] - bg.B;
            dist[i] = Math.Sqrt(dr * dr + dg * dg + db * db);
        }

        var label = new int[n];
        var objects = new List<DetectedObject>();
        var stack = new Stack<int>();
        var members = new List<int>();
        int next = 0;
        for (int seed = 0; seed < n; seed++)
        {
            if (label[seed] != 0 || dist[seed] <= Options.ForegroundDistance) continue;
            next++;
            members.Clear();
            label[seed] = next;
            stack.Push(seed);
            while (stack.Count > 0)
            {
                int p = stack.Pop();
                members.Add(p);
                int px = p % Size, py = p / Size;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++)
                    {
                        int qx = px + dx, qy = py + dy;
                        if ((uint)qx >= Size || (uint)qy >= Size) continue;
                        int q = qy * Size + qx;
                        if (label[q] != 0 || dist[q] <= Options.ForegroundDistance) continue;
                        label[q] = next;
                        stack.Push(q);
                    }
            }
            if (members.Count < Options.MinPixels) continue;
            foreach (var (group, id) in SplitByColor(rgb, bg, dist, members, label, ref next))
                if (group.Count >= Options.MinPixels && Describe(rgb, bg, dist, group, label, id) is { } obj)
                    objects.Add(obj);
        }
        objects.Sort((a, b) => a.CenterX.CompareTo(b.CenterX));
        return new ImageAnalysis(bg, objects);
    }

    private static Rgb EstimateBackground(ReadOnlySpan<byte> rgb)
    {
        var r = new List<byte>(4 * Size);
        var g = new List<byte>(4 * Size);
        var b = new List<byte>(4 * Size);
        for (int y = 0; y < Size; y++)
            for (int x = 0; x < Size; x++)
            {
                if (x != 0 && y != 0 && x != Size - 1 && y != Size - 1) continue;
                int p = 3 * (y * Size + x);
                r.Add(rgb[p]);
                g.Add(rgb[p + 1]);
                b.Add(rgb[p + 2]);
            }
        r.Sort();
        g.Sort();
        b.Sort();
        return new Rgb(r[r.Count / 2], g[g.Count / 2], b[b.Count / 2]);
    }

    /// <summary>
    /// Splits a component made of touching objects of different colours: when a second palette colour holds at least
    /// <see cref="ShapeJudgeOptions.MinPixels"/> of the component's strong (high-contrast) pixels, every pixel goes to the
    /// colour whose background→colour blend explains it best, and each group gets its own label.
    /// </summary>
    private List<(List<int> Members, int Id)> SplitByColor(ReadOnlySpan<byte> rgb, Rgb bg, double[] dist, List<int> members, int[] label, ref int next)
    {
        var whole = new List<(List<int>, int)> { (members, next) };
        if (members.Count < 2 * Options.MinPixels) return whole;
        var ds = members.Select(p => dist[p]).OrderBy(d => d).ToArray();
        double cut = 0.6 * ds[(int)(0.9 * (ds.Length - 1))];
        var counts = new int[ShapePalette.Colors.Count];
        foreach (int p in members)
            if (dist[p] >= cut) counts[(int)ShapePalette.Nearest(rgb[3 * p], rgb[3 * p + 1], rgb[3 * p + 2]).Color]++;
        var colors = Enumerable.Range(0, counts.Length).Where(c => counts[c] >= Options.MinPixels)
            .OrderByDescending(c => counts[c]).Select(c => ((ShapeColor)c).ToRgb()).ToArray();
        if (colors.Length < 2) return whole;

        var groups = colors.Select(_ => new List<int>()).ToArray();
        foreach (int p in members)
        {
            int best = 0;
            double bestResidual = double.MaxValue;
            for (int k = 0; k < colors.Length; k++)
            {
                double vr = colors[k].R - bg.R, vg = colors[k].G - bg.G, vb = colors[k].B - bg.B;
                double dr = rgb[3 * p] - bg.R, dg = rgb[3 * p + 1] - bg.G, db = rgb[3 * p + 2] - bg.B;
                double a = Math.Clamp((dr * vr + dg * vg + db * vb) / (vr * vr + vg * vg + vb * vb), 0, 1);
                double residual = Sq(dr - a * vr) + Sq(dg - a * vg) + Sq(db - a * vb);
                if (residual < bestResidual) (best, bestResidual) = (k, residual);
            }
            groups[best].Add(p);
        }
        var result = new List<(List<int>, int)>();
        foreach (var g in groups)
        {
            if (g.Count == 0) continue;
            int id = result.Count == 0 ? next : ++next;
            foreach (int p in g) label[p] = id;
            result.Add((g, id));
        }
        return result;
    }

    private static double Sq(double v) => v * v;

    private DetectedObject? Describe(ReadOnlySpan<byte> rgb, Rgb bg, double[] dist, List<int> members, int[] label, int id)
    {
        // Core pixels: near the component's strongest contrast (robust to the blurred rim) give its colour.
        var ds = members.Select(p => dist[p]).OrderBy(d => d).ToArray();
        double cut = 0.7 * ds[(int)(0.9 * (ds.Length - 1))];
        double sr = 0, sg = 0, sb = 0;
        int nCore = 0;
        foreach (int p in members)
        {
            if (dist[p] < cut) continue;
            sr += rgb[3 * p];
            sg += rgb[3 * p + 1];
            sb += rgb[3 * p + 2];
            nCore++;
        }
        sr /= nCore;
        sg /= nCore;
        sb /= nCore;
        var (color, colorDistance) = ShapePalette.Nearest(sr, sg, sb);

        const int pad = 3;
        int x0 = Size, y0 = Size, x1 = 0, y1 = 0;
        foreach (int p in members)
        {
            int x = p % Size, y = p / Size;
            x0 = Math.Min(x0, x); x1 = Math.Max(x1, x);
            y0 = Math.Min(y0, y); y1 = Math.Max(y1, y);
        }
        x0 = Math.Max(0, x0 - pad); y0 = Math.Max(0, y0 - pad);
        x1 = Math.Min(Size - 1, x1 + pad); y1 = Math.Min(Size - 1, y1 + pad);
        var window = new Window(x0, y0, x1 - x0 + 1, y1 - y0 + 1);
        bg = LocalBackground(rgb, label, window) ?? bg;

        // Coverage α from the projection on the (local) background→palette colour axis (the palette colour, not the
        // measured mean: blur washes out a small object's core, and α must still reach 1 only where the object fully covers).
        var pc = color.ToRgb();
        double vr = pc.R - bg.R, vg = pc.G - bg.G, vb = pc.B - bg.B, vv = vr * vr + vg * vg + vb * vb;
        if (vv < 1) return null;

        // Mass and centroid from the unclamped α (blur preserves both, and background noise averages out).
        var observed = new float[window.Width * window.Height];
        double mass = 0, mx = 0, my = 0;
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++)
            {
                int p = y * Size + x;
                if (label[p] != 0 && label[p] != id) continue; // another object's pixels
                double a = ((rgb[3 * p] - bg.R) * vr + (rgb[3 * p + 1] - bg.G) * vg + (rgb[3 * p + 2] - bg.B) * vb) / vv;
                mass += a;
                mx += a * (x + 0.5);
                my += a * (y + 0.5);
                observed[(y - y0) * window.Width + (x - x0)] = (float)Math.Clamp(a, 0, 1);
            }
        if (mass < Options.MinPixels / 2.0) return null;
        mx /= mass;
        my /= mass;

        var fit = FitKind(observed, window, mass, mx, my);
        if (fit.Iou < Options.MinTemplateIou) return null; // a blob of noise, not an object of the palette
        var (hw, hh) = ShapeLayout.HalfExtent(fit.Kind, fit.Scale);
        var mean = new Rgb((byte)Math.Round(sr), (byte)Math.Round(sg), (byte)Math.Round(sb));
        return new DetectedObject(color, fit.Kind, ShapeLayout.SizeOfScale(fit.Scale), ShapeLayout.Classify(fit.CenterX, fit.CenterY),
            fit.CenterX, fit.CenterY, members.Count, mean, colorDistance,
            new ShapeFeatures(mass, fit.Scale, 2 * hw, 2 * hh, fit.Iou, fit.RunnerUpIou));
    }

    /// <summary>
    /// The per-channel median of the window's outermost ring of background pixels (null when fewer than 8): follows a
    /// background that is not perfectly flat (gradients, vignetting in a model's output).
    /// </summary>
    private static Rgb? LocalBackground(ReadOnlySpan<byte> rgb, int[] label, Window w)
    {
        var r = new List<byte>();
        var g = new List<byte>();
        var b = new List<byte>();
        for (int y = w.Top; y < w.Top + w.Height; y++)
            for (int x = w.Left; x < w.Left + w.Width; x++)
            {
                bool ring = y == w.Top || y == w.Top + w.Height - 1 || x == w.Left || x == w.Left + w.Width - 1;
                int p = y * Size + x;
                if (!ring || label[p] != 0) continue;
                r.Add(rgb[3 * p]);
                g.Add(rgb[3 * p + 1]);
                b.Add(rgb[3 * p + 2]);
            }
        if (r.Count < 8) return null;
        r.Sort();
        g.Sort();
        b.Sort();
        return new Rgb(r[r.Count / 2], g[g.Count / 2], b[b.Count / 2]);
    }

    private readonly record struct Window(int Left, int Top, int Width, int Height);

    private readonly record struct Fit(ShapeKind Kind, double Scale, double CenterX, double CenterY, double Iou, double RunnerUpIou);

    /// <summary>
    /// The kind whose template best matches the coverage map (soft IoU). Each kind is tried at the scale its area formula
    /// gives for the observed mass (and a few factors around it), centred so its centroid sits on the observed centroid,
    /// sharp and blurred. Mass and centroid survive blur, so this holds up where thresholds on fill or solidity fail
    /// (blur rounds a small star or triangle into a blob).
    /// </summary>
    private Fit FitKind(float[] observed, Window window, double mass, double mx, double my)
    {
        var template = new float[observed.Length];
        var scratch = new float[observed.Length];
        var kinds = Options.Kinds;
        var bestPerKind = new Fit[kinds.Count];
        for (int k = 0; k < kinds.Count; k++)
        {
            var kind = kinds[k];
            double s0 = Math.Sqrt(mass / ShapeLayout.Area(kind, 1));
            var best = new Fit(kind, s0, mx, my, double.NegativeInfinity, 0);
            foreach (double f in Options.TemplateScales)
            {
                double s = s0 * f, cx = mx, cy = my - ShapeLayout.CentroidOffsetY(kind, s);
                ShapeRenderer.RenderCoverage(new SceneObject(kind, ShapeColor.White, ShapeSize.Small, cx, cy, s),
                    window.Left, window.Top, window.Width, window.Height, template);
                double previous = double.NegativeInfinity;
                for (int blur = 0; blur <= Options.TemplateBlurs; blur++)
                {
                    if (blur > 0) BoxBlur3(template, scratch, window.Width, window.Height);
                    double inter = 0, union = 0;
                    for (int i = 0; i < template.Length; i++)
                    {
                        inter += Math.Min(template[i], observed[i]);
                        union += Math.Max(template[i], observed[i]);
                    }
                    double iou = inter / Math.Max(1e-9, union);
                    if (iou > best.Iou) best = new Fit(kind, s, cx, cy, iou, 0);
                    if (iou <= previous) break; // more blur only drifts further from the image
                    previous = iou;
                }
            }
            bestPerKind[k] = best;
        }
        var ranked = bestPerKind.OrderByDescending(f => f.Iou).ToArray();
        if (ranked[0].Kind == ShapeKind.Ring && !HasHole(observed, window, ranked[0]))
            ranked = ranked[1..]; // a washed-out blob, not an annulus: take the best other kind
        return ranked[0] with { RunnerUpIou = ranked.Length > 1 ? ranked[1].Iou : 0 };
    }

    /// <summary>
    /// Whether the centre of a ring fit is background (mean coverage below <see cref="ShapeJudgeOptions.MaxRingHoleCoverage"/>
    /// within half the hole radius): the annulus template alone also fits a blob whose centre is merely paler.
    /// </summary>
    private bool HasHole(float[] observed, Window window, Fit ring)
    {
        double r = 0.5 * ShapeLayout.RingInnerRatio * ring.Scale, sum = 0;
        int count = 0;
        for (int y = 0; y < window.Height; y++)
            for (int x = 0; x < window.Width; x++)
            {
                double dx = window.Left + x + 0.5 - ring.CenterX, dy = window.Top + y + 0.5 - ring.CenterY;
                if (dx * dx + dy * dy > r * r) continue;
                sum += observed[y * window.Width + x];
                count++;
            }
        return count > 0 && sum / count < Options.MaxRingHoleCoverage;
    }

    /// <summary>In-place 3×3 box blur (separable; zero outside the window).</summary>
    private static void BoxBlur3(float[] image, float[] scratch, int w, int h)
    {
        for (int y = 0; y < h; y++)
        {
            int row = y * w;
            for (int x = 0; x < w; x++)
            {
                float sum = image[row + x];
                if (x > 0) sum += image[row + x - 1];
                if (x < w - 1) sum += image[row + x + 1];
                scratch[row + x] = sum;
            }
        }
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int i = y * w + x;
                float sum = scratch[i];
                if (y > 0) sum += scratch[i - w];
                if (y < h - 1) sum += scratch[i + w];
                image[i] = sum / 9;
            }
    }
}

/// <summary>A count of correct over asked, for benchmark tables.</summary>
public readonly record struct Rate(int Correct, int Asked)
{
    public double Value => Asked == 0 ? double.NaN : Correct / (double)Asked;

    public Rate Add(bool? outcome) => outcome is { } b ? new Rate(Correct + (b ? 1 : 0), Asked + 1) : this;

    public override string ToString() => Asked == 0 ? "n/a" : $"{Value:P1} ({Correct}/{Asked})";
}

/// <summary>Aggregates <see cref="JudgeResult"/>s into rates; each criterion counts only the images that asked it.</summary>
public sealed class JudgeTally
{
    public int Images { get; private set; }
    public Rate Count { get; private set; }
    public Rate Color { get; private set; }
    public Rate Shape { get; private set; }
    public Rate Size { get; private set; }
    public Rate Position { get; private set; }
    public Rate Relation { get; private set; }
    public Rate AllPresentWithColor { get; private set; }
    public Rate AllPresentWithColorAndShape { get; private set; }
    public Rate AllCorrect { get; private set; }

    public void Add(JudgeResult r)
    {
        Images++;
        Count = Count.Add(r.CountCorrect);
        Color = Color.Add(r.ColorCorrect);
        Shape = Shape.Add(r.ShapeCorrect);
        Size = Size.Add(r.SizeCorrect);
        Position = Position.Add(r.PositionCorrect);
        Relation = Relation.Add(r.RelationCorrect);
        AllPresentWithColor = AllPresentWithColor.Add(r.AllPresentWithColor);
        AllPresentWithColorAndShape = AllPresentWithColorAndShape.Add(r.AllPresentWithColorAndShape);
        AllCorrect = AllCorrect.Add(r.AllCorrect);
    }

    public override string ToString() =>
        $"images {Images}: count {Count}, colour {Color}, shape {Shape}, size {Size}, position {Position}, relation {Relation}, " +
        $"all present with colour {AllPresentWithColor}, with colour and shape {AllPresentWithColorAndShape}, all correct {AllCorrect}";
}
