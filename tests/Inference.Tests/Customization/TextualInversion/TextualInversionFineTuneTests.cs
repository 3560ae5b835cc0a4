using System.Diagnostics;
using Easel.Inference.Customization.TextualInversion;
using Xunit.Abstractions;

namespace Easel.Inference.Tests.Customization.TextualInversion;

/// <summary>The "textual_inversion" fine-tune on the bundled model: it learns the token, resumes bit-exactly, changes nothing else and exports a loadable file.</summary>
public sealed class TextualInversionFineTuneTests(ITestOutputHelper output) : IDisposable
{
    private const string Token = "<blot>";
    private const string Caption = "a " + Token;
    private readonly FineTuneFixture _fixture = new();
    private readonly TextualInversionFineTune _method = new();

    public void Dispose() => _fixture.Dispose();

    /// <summary>As for LoRA: the same batches, noise and timesteps in both runs, so the loss difference is the training's.</summary>
    [Fact]
    public void Thirty_steps_lower_the_loss_on_the_same_batches_and_change_what_the_token_generates()
    {
        var examples = FineTuneFixture.Stars(Caption);
        var withToken = FineTuneFixture.Request(Caption);

        double LastWindowLoss(string folder, double learningRate, out byte[] generated)
        {
            var recorder = new TrainingProgressRecorder();
            using var run = _method.Start(_fixture.Pipeline, _fixture.Settings(examples, folder, """{"token": "<blot>"}""", steps: 30, learningRate));
            var watch = Stopwatch.StartNew();
            run.RunUntil(30, recorder);
            output.WriteLine($"lr {learningRate}: 30 steps (batch 2, 64×64) in {watch.Elapsed.TotalSeconds:F1} s; window losses " +
                string.Join(", ", recorder.Reports.Select(r => r.Loss.ToString("F4"))));
            generated = run.Generate(withToken)[0].Rgb;
            return recorder.Reports[^1].Loss;
        }

        var untrained = LastWindowLoss("untrained", 1e-12, out var before);
        var trained = LastWindowLoss("trained", 5e-3, out var after);

        Assert.True(trained < 0.95 * untrained, $"loss of steps 20–29: {trained} trained vs {untrained} untrained");
        Assert.NotEqual(before, after);
    }

    [Fact]
    public void Run_stopped_at_step_6_and_resumed_by_a_new_run_ends_with_the_vectors_of_an_uninterrupted_run()
    {
        var examples = FineTuneFixture.Stars(Caption);
        var parameters = """{"token": "<blot>", "initializer_token": "star", "num_vectors": 2}""";
        string straightFile;
        using (var straight = _method.Start(_fixture.Pipeline, _fixture.Settings(examples, "straight", parameters, steps: 12, 5e-3, checkpointEvery: 4)))
        {
            straight.RunUntil(12);
            straightFile = straight.Export(_fixture.Folder("straight-out")).Files[0];
        }

        var settings = _fixture.Settings(examples, "interrupted", parameters, steps: 12, 5e-3, checkpointEvery: 4);
        using (var first = _method.Start(_fixture.Pipeline, settings))
            first.RunUntil(6);
        string resumedFile;
        using (var second = _method.Start(_fixture.Pipeline, settings))
        {
            Assert.Equal(6, second.Step);
            second.RunUntil(12);
            resumedFile = second.Export(_fixture.Folder("resumed-out")).Files[0];
        }

        Assert.Equal(File.ReadAllBytes(straightFile), File.ReadAllBytes(resumedFile));
    }

    [Fact]
    public void Plain_generations_during_and_after_the_run_give_the_base_models_pixels()
    {
        var plain = FineTuneFixture.Request("a purple star");
        var before = _fixture.Pipeline.Generate(plain);
        byte[] during;
        using (var run = _method.Start(_fixture.Pipeline, _fixture.Settings(FineTuneFixture.Stars(Caption), "run", """{"token": "<blot>"}""", steps: 5, 5e-3)))
        {
            Assert.All(_fixture.Pipeline.Vae.parameters(), p => Assert.False(p.requires_grad));
            run.RunUntil(5);
            during = run.Generate(plain)[0].Rgb;
        }
        var after = _fixture.Pipeline.Generate(plain);

        Assert.Equal(before[0].Rgb, during);
        Assert.Equal(before[0].Rgb, after[0].Rgb);
        Assert.All(_fixture.Pipeline.UNet.parameters(), p => Assert.True(p.requires_grad));
    }

    [Fact]
    public void Export_writes_learned_embeds_that_load_back_with_the_token_and_the_trained_vectors()
    {
        var settings = _fixture.Settings(FineTuneFixture.Stars(Caption), "run", """{"token": "<blot>", "num_vectors": 3}""", steps: 4, 5e-3);
        using var run = _method.Start(_fixture.Pipeline, settings);
        run.RunUntil(4);
        var artifact = run.Export(_fixture.Folder("out"));

        Assert.Equal(("embedding", "diffusers"), (artifact.Kind, artifact.Format));
        Assert.Equal(TextualInversionFile.DiffusersFileName, Path.GetFileName(Assert.Single(artifact.Files)));
        Assert.Equal(Token, artifact.Metadata["token"]);
        Assert.Equal(3, artifact.Metadata["vector_count"]);
        using var loaded = TextualInversionFile.Load(artifact.Files[0]);
        Assert.Equal(Token, loaded.Token);
        Assert.Equal(3, loaded.VectorCount);
        Assert.Equal([3L, 64L], loaded.Vectors[TextualInversionEmbedding.TextEncoder].shape);
        var request = FineTuneFixture.Request(Caption);
        Assert.Equal(run.Generate(request)[0].Rgb, _fixture.Pipeline.Generate(request with { Embeddings = [loaded] })[0].Rgb);
    }

    [Theory]
    [InlineData("""{}""", "token")]
    [InlineData("""{"token": "<other>"}""", "token")]
    [InlineData("""{"token": "a"}""", "token")]
    [InlineData("""{"token": "<blot>", "initializer_token": "purple star"}""", "initializer_token")]
    [InlineData("""{"token": "<blot>", "num_vectors": 0}""", "num_vectors")]
    [InlineData("""{"token": "<blot>", "vectors": 2}""", "vectors")]
    public void Bad_parameter_is_refused_naming_it(string parameters, string name)
    {
        var settings = _fixture.Settings(FineTuneFixture.Stars(Caption), "run", parameters, steps: 5, 1e-3);

        var error = Assert.Throws<ArgumentException>(() => _method.Start(_fixture.Pipeline, settings));

        Assert.Equal(name, error.ParamName);
        Assert.Contains($"'{name}'", error.Message);
    }
}
