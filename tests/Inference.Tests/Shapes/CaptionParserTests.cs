using Easel.Inference.Shapes;

namespace Easel.Inference.Tests.Shapes;

public sealed class CaptionParserTests
{
    [Fact]
    public void Parse_RoundTripsEveryGeneratedCaption()
    {
        foreach (var g in new SceneGenerator(11).Stream().Take(5000))
        {
            var parsed = CaptionParser.Parse(g.Caption);
            Assert.True(parsed == g.Spec, $"\"{g.Caption}\" parsed as \"{CaptionWriter.Write(parsed)}\"");
            Assert.Equal(g.Caption, CaptionWriter.Write(parsed));
        }
    }

    public static TheoryData<string> TemplateCaptions => new()
    {
        "a red circle",
        "an orange star",
        "a small blue square on the left",
        "a large green triangle at the top",
        "a white star at the bottom",
        "a black circle in the centre",
        "a circle",
        "a red shape",
        "a green triangle and a yellow star",
        "a small purple star on the left and a large white circle on the right",
        "a red circle, a blue square and a green star",
        "a purple star above a white circle",
        "a red square below a blue triangle",
        "an orange circle to the left of a black star",
        "a yellow triangle to the right of a green square",
    };

    [Theory]
    [MemberData(nameof(TemplateCaptions))]
    public void Parse_ThenWrite_ReproducesTheTemplateCaption(string caption) =>
        Assert.Equal(caption, CaptionWriter.Write(CaptionParser.Parse(caption)));

    [Fact]
    public void Parse_ReadsTheParts_OfASizedPositionedObject()
    {
        var spec = CaptionParser.Parse("a small blue square on the left");
        var o = Assert.Single(spec.Objects);
        Assert.Equal(new ObjectSpec(ShapeColor.Blue, ShapeKind.Square, ShapeSize.Small, ShapePosition.Left), o);
        Assert.Null(spec.Relation);
    }

    [Fact]
    public void Parse_ReadsARelation_BetweenTheTwoObjects()
    {
        var spec = CaptionParser.Parse("a purple star above a white circle");
        Assert.Equal(2, spec.Objects.Count);
        Assert.Equal(new RelationSpec(0, ShapeRelation.Above, 1), spec.Relation);
    }

    [Theory]
    [InlineData("A Red Circle.", "a red circle")]
    [InlineData("a photo of a big blue square on the left side", "a large blue square on the left")]
    [InlineData("a tiny violet disc in the middle", "a small purple circle in the centre")]
    [InlineData("two green stars", "a green star and a green star")]
    [InlineData("a yellow star under a black triangle", "a yellow star below a black triangle")]
    [InlineData("a red circle left of a blue square", "a red circle to the left of a blue square")]
    [InlineData("a white square at the top of the image", "a white square at the top")]
    [InlineData("red circle and blue square", "a red circle and a blue square")]
    [InlineData("an orange thing in the center", "an orange shape in the centre")]
    [InlineData("a circle, a square, and a triangle", "a circle, a square and a triangle")]
    public void Parse_UnderstandsSimpleUserPrompts(string prompt, string canonical) =>
        Assert.Equal(canonical, CaptionWriter.Write(CaptionParser.Parse(prompt)));

    [Fact]
    public void Parse_OfAPromptWithoutShapes_AsksForNothing()
    {
        Assert.Empty(CaptionParser.Parse("a beautiful landscape").Objects);
        Assert.Empty(CaptionParser.Parse("").Objects);
    }
}
