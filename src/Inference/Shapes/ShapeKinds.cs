namespace Easel.Inference.Shapes;

/// <summary>The sets of kinds a generator draws from or a judge fits.</summary>
public static class ShapeKinds
{
    /// <summary>
    /// The four kinds of the bundled model's world: the default of <see cref="SceneGeneratorOptions.Kinds"/> and
    /// <see cref="ShapeJudgeOptions.Kinds"/>, so the training stream and eval-shapes do not change when kinds are added.
    /// </summary>
    public static IReadOnlyList<ShapeKind> Trained { get; } = [ShapeKind.Circle, ShapeKind.Square, ShapeKind.Triangle, ShapeKind.Star];

    /// <summary>The trained kinds and the ring (for judging ring prompts; a ring must not pass for a circle).</summary>
    public static IReadOnlyList<ShapeKind> WithRing { get; } = [.. Trained, ShapeKind.Ring];
}
