namespace Easel.Inference.Shapes;

/// <summary>What a caption asks of one object; null (or <see cref="ShapePosition.Unspecified"/>) means "not asked".</summary>
public sealed record ObjectSpec(ShapeColor? Color, ShapeKind? Kind, ShapeSize? Size = null, ShapePosition Position = ShapePosition.Unspecified);

/// <summary>A relation asked between two objects of a caption: objects[Subject] is Relation objects[Object].</summary>
public sealed record RelationSpec(int Subject, ShapeRelation Relation, int Object);

/// <summary>What a caption asks for: the objects (their number is the asked count) and at most one spatial relation.</summary>
public sealed record SceneSpec(IReadOnlyList<ObjectSpec> Objects, RelationSpec? Relation = null)
{
    public SceneSpec(params ObjectSpec[] objects) : this((IReadOnlyList<ObjectSpec>)objects) { }

    public bool Equals(SceneSpec? other) =>
        other is not null && Objects.SequenceEqual(other.Objects) && Equals(Relation, other.Relation);

    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var o in Objects) h.Add(o);
        h.Add(Relation);
        return h.ToHashCode();
    }

    public override string ToString() => CaptionWriter.Write(this);
}
