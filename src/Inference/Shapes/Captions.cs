namespace Easel.Inference.Shapes;

/// <summary>
/// Writes the canonical caption of a <see cref="SceneSpec"/>. The grammar (what <see cref="SceneGenerator"/> emits):
/// <code>
/// caption  := object
///           | object " and " object
///           | object ", " object " and " object
///           | object relation object            (the two objects carry no position)
/// object   := article [size " "] [colour " "] (kind | "shape") [" " position]
/// article  := "a" | "an"                        ("an" before a vowel: "an orange star")
/// size     := "small" | "large"
/// colour   := "red" | "orange" | "yellow" | "green" | "blue" | "purple" | "white" | "black"
/// kind     := "circle" | "square" | "triangle" | "star" | "ring"   (rings only when the generator's Kinds include them)
/// position := "on the left" | "on the right" | "at the top" | "at the bottom" | "in the centre"
/// relation := " above " | " below " | " to the left of " | " to the right of "
/// </code>
/// </summary>
public static class CaptionWriter
{
    public static string Write(SceneSpec spec)
    {
        var parts = spec.Objects.Select(Write).ToList();
        if (spec.Relation is { } rel && parts.Count == 2)
            return $"{parts[rel.Subject]} {RelationWords(rel.Relation)} {parts[rel.Object]}";
        return parts.Count switch
        {
            0 => "",
            1 => parts[0],
            _ => string.Join(", ", parts.Take(parts.Count - 1)) + " and " + parts[^1],
        };
    }

    public static string Write(ObjectSpec o)
    {
        var words = new List<string>();
        if (o.Size is { } size) words.Add(Word(size));
        if (o.Color is { } color) words.Add(Word(color));
        words.Add(o.Kind is { } kind ? Word(kind) : "shape");
        if (o.Position != ShapePosition.Unspecified) words.Add(PositionWords(o.Position));
        string article = "aeiou".Contains(words[0][0]) ? "an" : "a";
        return article + " " + string.Join(' ', words);
    }

    public static string Word(ShapeColor c) => c.ToString().ToLowerInvariant();
    public static string Word(ShapeKind k) => k.ToString().ToLowerInvariant();
    public static string Word(ShapeSize s) => s == ShapeSize.Small ? "small" : "large";

    public static string PositionWords(ShapePosition p) => p switch
    {
        ShapePosition.Left => "on the left",
        ShapePosition.Right => "on the right",
        ShapePosition.Top => "at the top",
        ShapePosition.Bottom => "at the bottom",
        ShapePosition.Centre => "in the centre",
        _ => "",
    };

    public static string RelationWords(ShapeRelation r) => r switch
    {
        ShapeRelation.Above => "above",
        ShapeRelation.Below => "below",
        ShapeRelation.LeftOf => "to the left of",
        ShapeRelation.RightOf => "to the right of",
        _ => throw new ArgumentOutOfRangeException(nameof(r)),
    };
}

/// <summary>
/// Parses a caption or a simple user prompt into a <see cref="SceneSpec"/>. It reads every caption
/// <see cref="CaptionWriter"/> writes, and is lenient with prompts: unknown words are skipped ("a photo of a red
/// circle"), synonyms are accepted (big/tiny/little, violet, center/middle, disc, under/over/beneath, "left of"),
/// "two"/"three" with a plural kind repeat an object ("two blue squares"), and "shape"/"object"/"thing" stand for an
/// object of unspecified kind.
/// </summary>
public static class CaptionParser
{
    private static readonly Dictionary<string, ShapeColor> Colors = new()
    {
        ["red"] = ShapeColor.Red, ["orange"] = ShapeColor.Orange, ["yellow"] = ShapeColor.Yellow,
        ["green"] = ShapeColor.Green, ["blue"] = ShapeColor.Blue, ["purple"] = ShapeColor.Purple,
        ["violet"] = ShapeColor.Purple, ["white"] = ShapeColor.White, ["black"] = ShapeColor.Black,
    };

    private static readonly Dictionary<string, ShapeSize> Sizes = new()
    {
        ["small"] = ShapeSize.Small, ["tiny"] = ShapeSize.Small, ["little"] = ShapeSize.Small,
        ["large"] = ShapeSize.Large, ["big"] = ShapeSize.Large, ["huge"] = ShapeSize.Large,
    };

    private static readonly Dictionary<string, ShapeKind?> Kinds = new()
    {
        ["circle"] = ShapeKind.Circle, ["disc"] = ShapeKind.Circle, ["disk"] = ShapeKind.Circle,
        ["square"] = ShapeKind.Square, ["triangle"] = ShapeKind.Triangle, ["star"] = ShapeKind.Star,
        ["ring"] = ShapeKind.Ring, ["annulus"] = ShapeKind.Ring,
        ["shape"] = null, ["object"] = null, ["thing"] = null,
    };

    private static readonly Dictionary<string, int> Numbers = new()
    {
        ["a"] = 1, ["an"] = 1, ["one"] = 1, ["two"] = 2, ["three"] = 3,
    };

    private static readonly Dictionary<string, ShapePosition> PositionWords = new()
    {
        ["left"] = ShapePosition.Left, ["right"] = ShapePosition.Right, ["top"] = ShapePosition.Top,
        ["bottom"] = ShapePosition.Bottom, ["centre"] = ShapePosition.Centre, ["center"] = ShapePosition.Centre,
        ["middle"] = ShapePosition.Centre,
    };

    public static SceneSpec Parse(string caption)
    {
        ArgumentNullException.ThrowIfNull(caption);
        var tokens = Tokenize(caption);
        var objects = new List<ObjectSpec>();
        ShapeColor? color = null;
        ShapeSize? size = null;
        int count = 1;
        (int Subject, ShapeRelation Relation)? pendingRelation = null;
        RelationSpec? relation = null;

        void Flush(ShapeKind? kind, bool force)
        {
            if (force || color is not null || size is not null)
                for (int k = 0; k < count; k++) objects.Add(new ObjectSpec(color, kind, size));
            color = null;
            size = null;
            count = 1;
            if (pendingRelation is { } p && objects.Count > p.Subject + 1 && relation is null)
            {
                relation = new RelationSpec(p.Subject, p.Relation, p.Subject + 1);
                pendingRelation = null;
            }
        }

        for (int i = 0; i < tokens.Count; i++)
        {
            string t = tokens[i];
            if (TryRelation(tokens, ref i, out var rel))
            {
                Flush(null, false);
                if (objects.Count > 0 && pendingRelation is null && relation is null)
                    pendingRelation = (objects.Count - 1, rel);
                continue;
            }
            if (TryPosition(tokens, ref i, out var pos))
            {
                if (color is not null || size is not null) Flush(null, false);
                if (objects.Count > 0 && objects[^1].Position == ShapePosition.Unspecified)
                    objects[^1] = objects[^1] with { Position = pos };
                continue;
            }
            if (t is "and" or "," or "with" or "next")
            {
                Flush(null, false);
                continue;
            }
            if (Numbers.TryGetValue(t, out int n))
            {
                if (color is not null || size is not null) Flush(null, false);
                count = n;
                continue;
            }
            if (Colors.TryGetValue(t, out var c)) { color = c; continue; }
            if (Sizes.TryGetValue(t, out var s)) { size = s; continue; }
            if (Kinds.TryGetValue(Singular(t), out var kind)) { Flush(kind, true); continue; }
        }
        Flush(null, false);
        return new SceneSpec(objects, relation);
    }

    private static string Singular(string word) =>
        word.Length > 3 && word.EndsWith('s') && !word.EndsWith("ss", StringComparison.Ordinal) ? word[..^1] : word;

    private static List<string> Tokenize(string caption)
    {
        var tokens = new List<string>();
        var current = new System.Text.StringBuilder();
        foreach (char ch in caption.ToLowerInvariant())
        {
            if (char.IsLetter(ch)) { current.Append(ch); continue; }
            if (current.Length > 0) { tokens.Add(current.ToString()); current.Clear(); }
            if (ch is ',' or ';') tokens.Add(",");
        }
        if (current.Length > 0) tokens.Add(current.ToString());
        return tokens;
    }

    private static bool Match(List<string> tokens, int i, params string[] words)
    {
        if (i + words.Length > tokens.Count) return false;
        for (int k = 0; k < words.Length; k++)
            if (tokens[i + k] != words[k]) return false;
        return true;
    }

    private static bool TryRelation(List<string> tokens, ref int i, out ShapeRelation relation)
    {
        (string[] Words, ShapeRelation Relation)[] forms =
        [
            (["to", "the", "left", "of"], ShapeRelation.LeftOf), (["to", "the", "right", "of"], ShapeRelation.RightOf),
            (["on", "the", "left", "of"], ShapeRelation.LeftOf), (["on", "the", "right", "of"], ShapeRelation.RightOf),
            (["left", "of"], ShapeRelation.LeftOf), (["right", "of"], ShapeRelation.RightOf),
            (["above"], ShapeRelation.Above), (["over"], ShapeRelation.Above), (["on", "top", "of"], ShapeRelation.Above),
            (["below"], ShapeRelation.Below), (["under"], ShapeRelation.Below), (["beneath"], ShapeRelation.Below),
            (["underneath"], ShapeRelation.Below),
        ];
        foreach (var (words, rel) in forms)
        {
            if (Match(tokens, i, words))
            {
                i += words.Length - 1;
                relation = rel;
                return true;
            }
        }
        relation = default;
        return false;
    }

    private static bool TryPosition(List<string> tokens, ref int i, out ShapePosition position)
    {
        position = ShapePosition.Unspecified;
        if (tokens[i] is not ("on" or "at" or "in")) return false;
        int j = i + 1;
        if (j < tokens.Count && tokens[j] == "the") j++;
        if (j >= tokens.Count || !PositionWords.TryGetValue(tokens[j], out position)) return false;
        // "on the left side", "at the top of the image": swallow the trailing filler words.
        if (j + 1 < tokens.Count && tokens[j + 1] is "side" or "edge" or "half") j++;
        i = j;
        return true;
    }
}
