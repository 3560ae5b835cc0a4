namespace Easel.Inference.Control.Gligen;

/// <summary>
/// A request's grounding (issue 14 §4): one phrase per box, boxes as [x0, y0, x1, y1] fractions of the image, and
/// scheduled sampling β (the fusers run for the first ⌊β·steps⌋ steps).
/// </summary>
public sealed record GligenGrounding(IReadOnlyList<string> Phrases, IReadOnlyList<float[]> Boxes, double Beta = 0.3)
{
    /// <summary>GLIGEN's position nets are trained with 30 entity slots.</summary>
    public const int MaxEntities = 30;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid field.</summary>
    public void Validate()
    {
        if (Phrases.Count != Boxes.Count)
            throw new ArgumentException($"grounding has {Phrases.Count} phrases and {Boxes.Count} boxes; give one phrase per box.");
        if (Boxes.Count > MaxEntities)
            throw new ArgumentException($"grounding has {Boxes.Count} entities; GLIGEN takes at most {MaxEntities}.");
        if (Beta is < 0 or > 1 || double.IsNaN(Beta))
            throw new ArgumentException($"grounding.beta is {Beta}; it must be in [0, 1].");
        for (var i = 0; i < Boxes.Count; i++)
        {
            var box = Boxes[i];
            if (box.Length != 4)
                throw new ArgumentException($"grounding.boxes[{i}] has {box.Length} numbers; a box is [x0, y0, x1, y1].");
            if (box.Any(v => v is < 0 or > 1 || float.IsNaN(v)))
                throw new ArgumentException($"grounding.boxes[{i}] = [{string.Join(", ", box)}] is outside [0, 1] (boxes are fractions of the image).");
            if (box[2] <= box[0] || box[3] <= box[1])
                throw new ArgumentException($"grounding.boxes[{i}] = [{string.Join(", ", box)}] needs x1 > x0 and y1 > y0.");
        }
    }
}
