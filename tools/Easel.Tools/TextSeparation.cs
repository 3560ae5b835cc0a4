using Easel.Inference.Shapes;
using Easel.Inference.Text;
using static TorchSharp.torch;

namespace Easel.Tools;

/// <summary>
/// How far apart the text encoder puts captions that differ in one attribute: ‖h(a) − h(b)‖ / ‖h(a)‖ over the 77 hidden
/// states the UNet's cross-attention reads, averaged over every colour × kind. An attribute near 0 is one the UNet
/// cannot follow whatever it learned; on single caption pairs a randomly initialised encoder separates each attribute by
/// 0.10–0.23.
/// </summary>
internal static class TextSeparation
{
    public static void Print(string modelFolder)
    {
        using var textEncoder = ClipTextModel.FromPretrained(Path.Combine(modelFolder, "text_encoder"));
        textEncoder.eval();
        var tokenizer = ClipTokenizer.FromPretrained(Path.Combine(modelFolder, "tokenizer"));
        var colours = Enum.GetValues<ShapeColor>();
        var kinds = ShapeKinds.Trained.ToArray(); // the bundled model's kinds: rings are not in its captions
        var bases = colours.SelectMany(c => kinds.Select(k => new ObjectSpec(c, k, ShapeSize.Large, ShapePosition.Left))).ToList();
        (string Attribute, Func<ObjectSpec, ObjectSpec> Change)[] changes =
        [
            ("colour", o => o with { Color = colours[((int)o.Color! + 1) % colours.Length] }),
            ("shape", o => o with { Kind = kinds[((int)o.Kind! + 1) % kinds.Length] }),
            ("size", o => o with { Size = ShapeSize.Small }),
            ("position", o => o with { Position = ShapePosition.Right }),
        ];

        Console.WriteLine();
        Console.WriteLine("text encoder: relative distance between captions that differ in one attribute (mean over colour × kind)");
        Console.WriteLine("| attribute | distance | example |");
        Console.WriteLine("|---|---|---|");
        using var noGrad = no_grad();
        foreach (var (attribute, change) in changes)
        {
            using var scope = NewDisposeScope();
            var first = tokenizer.EncodeBatch(bases.Select(CaptionWriter.Write).ToList());
            var second = tokenizer.EncodeBatch(bases.Select(o => CaptionWriter.Write(change(o))).ToList());
            var a = textEncoder.forward(first).LastHiddenState.flatten(1);
            var b = textEncoder.forward(second).LastHiddenState.flatten(1);
            var distance = RelativeDistance(a, b);
            Console.WriteLine($"| {attribute} | {distance:F3} | {CaptionWriter.Write(bases[0])} / {CaptionWriter.Write(change(bases[0]))} |");
        }
        PrintKindPairs(textEncoder, tokenizer, colours, kinds);
    }

    /// <summary>The same distance for every pair of kinds: a pair the encoder keeps close is one the UNet can confuse.</summary>
    private static void PrintKindPairs(ClipTextModel textEncoder, ClipTokenizer tokenizer, ShapeColor[] colours, ShapeKind[] kinds)
    {
        Console.WriteLine();
        Console.WriteLine("text encoder: distance between captions naming two kinds (mean over colours)");
        Console.WriteLine($"| | {string.Join(" | ", kinds)} |");
        Console.WriteLine($"|---|{string.Concat(kinds.Select(_ => "---|"))}");
        using var scope = NewDisposeScope();
        var states = kinds.Select(kind =>
        {
            var captions = colours.Select(c => CaptionWriter.Write(new ObjectSpec(c, kind, ShapeSize.Large, ShapePosition.Left))).ToList();
            return textEncoder.forward(tokenizer.EncodeBatch(captions)).LastHiddenState.flatten(1);
        }).ToList();
        foreach (var (kind, a) in kinds.Zip(states))
        {
            var row = states.Select(b => RelativeDistance(a, b).ToString("F3"));
            Console.WriteLine($"| {kind} | {string.Join(" | ", row)} |");
        }
    }

    /// <summary>‖a − b‖ / ‖a‖ per caption (rows of flattened hidden states), averaged.</summary>
    private static float RelativeDistance(Tensor a, Tensor b) => ((a - b).norm(1) / a.norm(1)).mean().item<float>();
}
