using Easel.Inference.Shapes;

namespace Easel.Tools;

/// <summary>Per row of a ring table: how often the asked (single) object was found as a ring, with its colour, and fully right.</summary>
internal sealed class RingTally
{
    private readonly Dictionary<string, int> _kinds = [];

    public int Images { get; private set; }
    public int Ring { get; private set; }
    public int RingWithColor { get; private set; }
    public int AllCorrect { get; private set; }

    public void Add(JudgeResult result)
    {
        Images++;
        var match = result.Objects[0].Match;
        var found = match?.Kind.ToString() ?? "absent";
        _kinds[found] = _kinds.GetValueOrDefault(found) + 1;
        if (match?.Kind == ShapeKind.Ring) Ring++;
        if (match?.Kind == ShapeKind.Ring && result.Objects[0].ColorCorrect != false) RingWithColor++;
        if (result.AllCorrect) AllCorrect++;
    }

    public string KindsFound() => string.Join(", ", _kinds.OrderByDescending(k => k.Value).Select(k => $"{k.Key} {k.Value}"));
}
