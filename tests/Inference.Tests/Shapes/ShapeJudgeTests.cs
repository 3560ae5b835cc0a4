using Easel.Inference.Shapes;

namespace Easel.Inference.Tests.Shapes;

public sealed class ShapeJudgeTests
{
    private static readonly Rgb Grey = new(128, 128, 128);

    private static byte[] Render(params SceneObject[] objects) => ShapeRenderer.Render(new Scene(Grey, objects));

    private static SceneObject Obj(ShapeKind kind, ShapeColor color, double x, double y, double scale = 8) =>
        new(kind, color, scale >= ShapeLayout.LargeMin ? ShapeSize.Large : ShapeSize.Small, x, y, scale);

    [Fact]
    public void RedCircleOnTheLeft_IsJudgedRedCircleLeft()
    {
        var image = Render(Obj(ShapeKind.Circle, ShapeColor.Red, 12, 32, 7));
        var result = ShapeJudge.Default.Score(image, "a red circle on the left");
        var found = Assert.Single(result.Analysis.Objects);
        Assert.Equal((ShapeColor.Red, ShapeKind.Circle, ShapePosition.Left, ShapeSize.Small), (found.Color, found.Kind, found.Position, found.Size));
        Assert.Equal(Grey, result.Analysis.Background);
        Assert.True(result.CountCorrect);
        Assert.True(result.ColorCorrect);
        Assert.True(result.ShapeCorrect);
        Assert.True(result.PositionCorrect);
        Assert.Null(result.SizeCorrect); // not asked
        Assert.True(result.AllCorrect);
    }

    [Theory]
    [InlineData(ShapeKind.Circle, ShapeColor.Blue)]
    [InlineData(ShapeKind.Square, ShapeColor.Yellow)]
    [InlineData(ShapeKind.Triangle, ShapeColor.White)]
    [InlineData(ShapeKind.Star, ShapeColor.Black)]
    [InlineData(ShapeKind.Star, ShapeColor.Orange)]
    [InlineData(ShapeKind.Triangle, ShapeColor.Purple)]
    [InlineData(ShapeKind.Square, ShapeColor.Green)]
    public void LargeObjectInTheCentre_IsFoundWithItsKindColourAndSize(ShapeKind kind, ShapeColor color)
    {
        var found = Assert.Single(ShapeJudge.Default.Analyze(Render(Obj(kind, color, 32, 32, 13))).Objects);
        Assert.Equal((kind, color, ShapeSize.Large, ShapePosition.Centre), (found.Kind, found.Color, found.Size, found.Position));
        Assert.Equal(13, found.Features.Scale, 0.5);
    }

    [Fact]
    public void WrongColour_FailsColourButNotShape()
    {
        var result = ShapeJudge.Default.Score(Render(Obj(ShapeKind.Square, ShapeColor.Blue, 32, 32)), "a red square");
        Assert.False(result.ColorCorrect);
        Assert.True(result.ShapeCorrect);
        Assert.True(result.CountCorrect);
        Assert.False(result.AllCorrect);
    }

    [Fact]
    public void WrongPosition_FailsPosition()
    {
        var result = ShapeJudge.Default.Score(Render(Obj(ShapeKind.Star, ShapeColor.Green, 50, 32)), "a green star on the left");
        Assert.False(result.PositionCorrect);
        Assert.True(result.ColorCorrect);
        Assert.True(result.ShapeCorrect);
    }

    [Fact]
    public void BlankImage_HasNoObjects_AndFailsEveryAskedCriterion()
    {
        var result = ShapeJudge.Default.Score(Render(), "a small red circle at the top");
        Assert.Empty(result.Analysis.Objects);
        Assert.False(result.CountCorrect);
        Assert.False(result.ColorCorrect);
        Assert.False(result.ShapeCorrect);
        Assert.False(result.SizeCorrect);
        Assert.False(result.PositionCorrect);
        Assert.False(Assert.Single(result.Objects).Present);
    }

    [Fact]
    public void TwoObjectCaption_WithOneObjectMissing_IsNotAllPresent()
    {
        var image = Render(Obj(ShapeKind.Triangle, ShapeColor.Green, 16, 32));
        var result = ShapeJudge.Default.Score(image, "a green triangle and a yellow star");
        Assert.False(result.CountCorrect);
        Assert.False(result.AllPresentWithColor);
        Assert.True(result.Objects[0].Satisfied);
        Assert.False(result.Objects[1].Present);
    }

    [Fact]
    public void TwoObjectCaption_IsMatchedWhicheverOrderTheObjectsAreIn()
    {
        var image = Render(Obj(ShapeKind.Star, ShapeColor.Yellow, 14, 32), Obj(ShapeKind.Triangle, ShapeColor.Green, 48, 32));
        var result = ShapeJudge.Default.Score(image, "a green triangle and a yellow star");
        Assert.True(result.AllPresentWithColorAndShape);
        Assert.True(result.AllCorrect);
        Assert.Equal(ShapeColor.Green, result.Objects[0].Match!.Color);
    }

    [Fact]
    public void Relation_IsJudgedFromTheMatchedObjects()
    {
        var image = Render(Obj(ShapeKind.Star, ShapeColor.Purple, 32, 14), Obj(ShapeKind.Circle, ShapeColor.White, 32, 48));
        Assert.True(ShapeJudge.Default.Score(image, "a purple star above a white circle").RelationCorrect);
        Assert.False(ShapeJudge.Default.Score(image, "a purple star below a white circle").RelationCorrect);
        Assert.Null(ShapeJudge.Default.Score(image, "a purple star and a white circle").RelationCorrect);
    }

    [Fact]
    public void ExtraObject_FailsCountOnly()
    {
        var image = Render(Obj(ShapeKind.Circle, ShapeColor.Red, 14, 32), Obj(ShapeKind.Square, ShapeColor.Blue, 48, 32));
        var result = ShapeJudge.Default.Score(image, "a red circle");
        Assert.False(result.CountCorrect);
        Assert.True(result.ColorCorrect);
        Assert.True(result.ShapeCorrect);
    }

    [Fact]
    public void Analyze_RejectsImagesOfTheWrongSize() =>
        Assert.Throws<ArgumentException>(() => ShapeJudge.Default.Analyze(new byte[32 * 32 * 3]));

    [Fact]
    public void Tally_CountsEachCriterionOnlyWhereAsked()
    {
        var tally = new JudgeTally();
        var image = Render(Obj(ShapeKind.Circle, ShapeColor.Red, 14, 32));
        tally.Add(ShapeJudge.Default.Score(image, "a red circle"));
        tally.Add(ShapeJudge.Default.Score(image, "a blue circle on the left"));
        Assert.Equal(2, tally.Images);
        Assert.Equal(new Rate(1, 2), tally.Color);
        Assert.Equal(new Rate(2, 2), tally.Shape);
        Assert.Equal(new Rate(1, 1), tally.Position);
        Assert.Equal(new Rate(0, 0), tally.Size);
        Assert.True(double.IsNaN(tally.Size.Value));
        Assert.Equal(0.5, tally.Color.Value);
    }

    [Fact]
    public void Palette_ColoursAreWellSeparated_FromEachOtherAndFromBackgrounds()
    {
        var colors = Enum.GetValues<ShapeColor>().Select(c => c.ToRgb()).ToArray();
        for (int i = 0; i < colors.Length; i++)
            for (int j = i + 1; j < colors.Length; j++)
                Assert.True(colors[i].DistanceTo(colors[j]) >= 100, $"{colors[i]} vs {colors[j]}");
        foreach (var bg in ShapePalette.Backgrounds)
            foreach (var c in colors)
                Assert.True(bg.DistanceTo(c) >= 95, $"background {bg} vs {c}");
    }
}
