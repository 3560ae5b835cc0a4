using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Easel.Inference.Shapes;

namespace Easel.Inference.Tests.Shapes;

/// <summary>
/// Pins the default shapes world to the hashes it had before rings were added: the bundled model was trained on this
/// stream and eval-shapes judges it, so an opt-in concept must not move a single scene, pixel or verdict.
/// </summary>
public sealed class DefaultShapesWorldPinTests
{
    private const ulong EvalHeldOutSeed = 77_000_001; // EvalShapesCommand.HeldOutSeed

    private static string Hash(IEnumerable<string> lines) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', lines))))[..16];

    private static string R(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static string Describe(GeneratedScene g) =>
        $"{g.Index}|{g.Caption}|{g.Scene.Background}|" +
        string.Join(';', g.Scene.Objects.Select(o => $"{o.Kind},{o.Color},{o.Size},{R(o.CenterX)},{R(o.CenterY)},{R(o.Scale)}"));

    private static string Describe(ImageAnalysis a) =>
        $"{a.Background}|" + string.Join(';', a.Objects.Select(o =>
            $"{o.Kind},{o.Color},{o.Size},{o.Position},{R(o.CenterX)},{R(o.CenterY)},{o.PixelCount},{R(o.Features.TemplateIou)},{R(o.Features.RunnerUpIou)}"));

    private static IEnumerable<GeneratedScene> EvalSingles() =>
        new SceneGenerator(EvalHeldOutSeed, SceneGeneratorOptions.Default with { OneObject = 1.0, TwoObjects = 0.0 }).Stream().Take(120);

    private static IEnumerable<GeneratedScene> EvalPairs() =>
        new SceneGenerator(EvalHeldOutSeed + 1, SceneGeneratorOptions.Default with { OneObject = 0.0, TwoObjects = 1.0 }).Stream().Take(120);

    [Fact]
    public void DefaultStream_IsUnchanged()
    {
        Assert.Equal(["07ED174660E0F352", "5DD2136EB9D3B169"], [
            Hash(new SceneGenerator(2024).Stream().Take(1000).Select(Describe)),
            Hash(new SceneGenerator(0).Stream(1_000_000).Take(200).Select(Describe))]);
    }

    [Fact]
    public void EvalShapesCaptions_AreUnchanged()
    {
        Assert.Equal(["5778E3571C5DB0D9", "DA65B60B05B7EDBC"], [Hash(EvalSingles().Select(Describe)), Hash(EvalPairs().Select(Describe))]);
    }

    [Fact]
    public void DefaultRenders_AreUnchanged()
    {
        var pixels = new SceneGenerator(2024).Stream().Take(300).Select(g => Convert.ToHexString(SHA256.HashData(ShapeRenderer.Render(g.Scene))));
        Assert.Equal("6FF708D94E7F50A5", Hash(pixels));
    }

    [Fact]
    public void DefaultJudge_OnEvalShapesScenes_IsUnchanged()
    {
        var scenes = EvalSingles().Concat(EvalPairs()).ToArray();
        var clean = scenes.Select(g => Describe(ShapeJudge.Default.Analyze(ShapeRenderer.Render(g.Scene))));
        var degraded = scenes.Select(g => Describe(ShapeJudge.Default.Analyze(
            ShapeImages.AddNoise(ShapeImages.BoxBlur3(ShapeImages.BoxBlur3(ShapeRenderer.Render(g.Scene))), 12, g.Index))));
        Assert.Equal(["B3E6E5351AF78FA9", "8181F0493859B09A"], [Hash(clean), Hash(degraded)]);
    }
}
