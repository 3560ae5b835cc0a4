namespace Easel.Inference.Shapes;

/// <summary>
/// One object of a scene. (<paramref name="CenterX"/>, <paramref name="CenterY"/>) is the centre of the object's
/// bounding box in pixels of the 64×64 canvas (x to the right, y down, pixel (i, j) covers [i, i+1)×[j, j+1));
/// <paramref name="Scale"/> is its radius-like scale: the bounding box extent is about 2·Scale (see <see cref="ShapeLayout"/>).
/// </summary>
public sealed record SceneObject(ShapeKind Kind, ShapeColor Color, ShapeSize Size, double CenterX, double CenterY, double Scale)
{
    /// <summary>The object's bounding box (left, top, right, bottom) in canvas pixels.</summary>
    public (double Left, double Top, double Right, double Bottom) Bounds
    {
        get
        {
            var (hw, hh) = ShapeLayout.HalfExtent(Kind, Scale);
            return (CenterX - hw, CenterY - hh, CenterX + hw, CenterY + hh);
        }
    }
}

/// <summary>A plain background and 1–3 non-overlapping objects, drawn in order.</summary>
public sealed record Scene(Rgb Background, IReadOnlyList<SceneObject> Objects)
{
    /// <summary>Width and height of the canvas every scene is laid out on.</summary>
    public const int CanvasSize = 64;
}
