using Easel.Inference.Editing.Imagic;
using Easel.Inference.Models;
using Easel.Inference.Pipelines;
using Easel.Inference.Shapes;

namespace Easel.Inference.Tests.Editing;

/// <summary>Imagic on the bundled model with a few steps per stage: the session renders any η, and the cached model is left as it was.</summary>
public sealed class ImagicTests(BundledPipeline bundled) : IClassFixture<BundledPipeline>
{
    private static readonly ImagicSettings Short = new(EmbeddingSteps: 3, FineTuneSteps: 3, Batch: 2, Seed: 5);

    private static InputImage RedCircle() => InputImage.FromRgb(64, 64,
        ShapeRenderer.Render(new Scene(new Rgb(128, 128, 128), [new SceneObject(ShapeKind.Circle, ShapeColor.Red, ShapeSize.Large, 14, 32, 9)])));

    private static TextToImageRequest Render() => new("a blue circle", "", 64, 64, 4, 7.5, 3, "ddim");

    [Fact]
    public void Training_moves_the_embedding_from_the_target_and_leaves_no_adapter_on_the_cached_model()
    {
        var pipeline = bundled.Pipeline;
        var before = pipeline.Generate(Render())[0].Rgb;

        using var session = ImagicSession.Train(pipeline, RedCircle(), "a blue circle", Short);

        Assert.True((session.Optimised - session.Target).abs().max().item<float>() > 0, "stage A did not move e_opt");
        Assert.NotEmpty(session.Tuned.Entries);
        Assert.All(pipeline.UNet.modules().OfType<LoraLayer>(), l => Assert.Empty(l.Adapters));
        Assert.Equal(before, pipeline.Generate(Render())[0].Rgb);
    }

    [Fact]
    public void A_session_renders_each_eta_the_same_every_time_and_different_etas_differently_without_changing_the_model()
    {
        var pipeline = bundled.Pipeline;
        using var session = ImagicSession.Train(pipeline, RedCircle(), "a blue circle", Short);
        var before = pipeline.Generate(Render())[0].Rgb;

        var reconstruction = session.Render(pipeline, Render(), 0)[0].Rgb;
        var again = session.Render(pipeline, Render(), 0)[0].Rgb;
        var edit = session.Render(pipeline, Render(), 1)[0].Rgb;

        Assert.Equal(reconstruction, again);
        Assert.NotEqual(reconstruction, edit);
        Assert.Equal(before, pipeline.Generate(Render())[0].Rgb);
    }
}
