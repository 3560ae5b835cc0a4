using System.Diagnostics;
using Easel.Inference.Customization;
using Easel.Inference.Customization.Lora;
using Easel.Inference.Models;
using Xunit.Abstractions;

namespace Easel.Inference.Tests.Customization.Lora;

/// <summary>The "lora" fine-tune on the bundled model: it learns, resumes bit-exactly, leaves the base model intact and exports a loadable file.</summary>
public sealed class LoraFineTuneTests(ITestOutputHelper output) : IDisposable
{
    private const string Caption = "a purple star";
    private readonly FineTuneFixture _fixture = new();
    private readonly LoraFineTune _method = new();

    public void Dispose() => _fixture.Dispose();

    private IEnumerable<LoraLayer> Layers => _fixture.Pipeline.UNet.modules().OfType<LoraLayer>();

    /// <summary>
    /// The mean loss of steps 20–29 after training, against a run whose learning rate is too small to move the weights: both
    /// runs draw the same batches, noise and timesteps at every step, so the difference is the training's alone.
    /// </summary>
    [Fact]
    public void Thirty_steps_lower_the_loss_on_the_same_batches_and_change_the_generations()
    {
        var examples = FineTuneFixture.Stars(Caption);
        var plain = FineTuneFixture.Request(Caption);
        var before = _fixture.Pipeline.Generate(plain);

        double LastWindowLoss(string folder, double learningRate, out byte[] generated)
        {
            var recorder = new TrainingProgressRecorder();
            using var run = _method.Start(_fixture.Pipeline, _fixture.Settings(examples, folder, "{}", steps: 30, learningRate));
            var watch = Stopwatch.StartNew();
            run.RunUntil(30, recorder);
            output.WriteLine($"lr {learningRate}: 30 steps (batch 2, 64×64) in {watch.Elapsed.TotalSeconds:F1} s; window losses " +
                string.Join(", ", recorder.Reports.Select(r => r.Loss.ToString("F4"))));
            generated = run.Generate(plain)[0].Rgb;
            return recorder.Reports[^1].Loss;
        }

        var untrained = LastWindowLoss("untrained", 1e-12, out _);
        var trained = LastWindowLoss("trained", 5e-3, out var after);

        Assert.True(trained < 0.95 * untrained, $"loss of steps 20–29: {trained} trained vs {untrained} untrained");
        Assert.NotEqual(before[0].Rgb, after);
    }

    [Fact]
    public void Run_stopped_at_step_6_and_resumed_by_a_new_run_ends_with_the_weights_of_an_uninterrupted_run()
    {
        var examples = FineTuneFixture.Stars(Caption);
        var parameters = """{"rank": 2, "alpha": 4}""";
        string straightFile;
        using (var straight = _method.Start(_fixture.Pipeline, _fixture.Settings(examples, "straight", parameters, steps: 12, 5e-3, checkpointEvery: 4)))
        {
            straight.RunUntil(12);
            straightFile = straight.Export(_fixture.Folder("straight-out")).Files[0];
        }

        var settings = _fixture.Settings(examples, "interrupted", parameters, steps: 12, 5e-3, checkpointEvery: 4);
        using (var first = _method.Start(_fixture.Pipeline, settings))
        {
            first.RunUntil(6);
            Assert.Equal(6, first.Step);
        }
        string resumedFile;
        using (var second = _method.Start(_fixture.Pipeline, settings))
        {
            Assert.Equal(6, second.Step);
            second.RunUntil(12);
            Assert.Equal(12, second.Step);
            resumedFile = second.Export(_fixture.Folder("resumed-out")).Files[0];
        }

        Assert.Equal(File.ReadAllBytes(straightFile), File.ReadAllBytes(resumedFile));
    }

    [Fact]
    public void Disposing_the_run_gives_the_base_models_pixels_and_gradient_flags_again()
    {
        var plain = FineTuneFixture.Request(Caption);
        var before = _fixture.Pipeline.Generate(plain);
        var flags = _fixture.Pipeline.UNet.parameters().Select(p => p.requires_grad).ToList();
        byte[] during;
        using (var run = _method.Start(_fixture.Pipeline, _fixture.Settings(FineTuneFixture.Stars(Caption), "run", "{}", steps: 5, 1e-2)))
        {
            Assert.All(_fixture.Pipeline.UNet.parameters(), p => Assert.False(p.requires_grad));
            run.RunUntil(5);
            during = run.Generate(plain)[0].Rgb;
        }
        var after = _fixture.Pipeline.Generate(plain);

        Assert.NotEqual(before[0].Rgb, during);
        Assert.Equal(before[0].Rgb, after[0].Rgb);
        Assert.All(Layers, l => Assert.Empty(l.Adapters));
        Assert.Equal(flags, _fixture.Pipeline.UNet.parameters().Select(p => p.requires_grad).ToList());
    }

    [Fact]
    public void Export_writes_a_diffusers_file_that_loads_back_and_generates_what_the_run_did()
    {
        var parameters = """{"rank": 2, "target_modules": ["to_q", "to_v", "text_encoder.q_proj"]}""";
        var plain = FineTuneFixture.Request(Caption);
        FineTuneArtifact artifact;
        byte[] viaRun;
        using (var run = _method.Start(_fixture.Pipeline, _fixture.Settings(FineTuneFixture.Stars(Caption), "run", parameters, steps: 4, 1e-2)))
        {
            run.RunUntil(4);
            viaRun = run.Generate(plain)[0].Rgb;
            artifact = run.Export(_fixture.Folder("out"));
        }

        Assert.Equal(("lora", "diffusers"), (artifact.Kind, artifact.Format));
        Assert.Equal("pytorch_lora_weights.safetensors", Path.GetFileName(Assert.Single(artifact.Files)));
        Assert.Equal(2, artifact.Metadata["rank"]);
        Assert.Equal(2.0, artifact.Metadata["alpha"]);
        Assert.Equal(["to_q", "to_v", "text_encoder.q_proj"], (IEnumerable<string>)artifact.Metadata["target_modules"]!);
        using var loaded = LoraFile.Load(artifact.Files[0]);
        Assert.Equal(LoraFormat.Diffusers, loaded.Format);
        var unetTargets = _fixture.Pipeline.UNet.named_modules().Count(m => m.module is LoraLayer && (m.name.EndsWith(".to_q") || m.name.EndsWith(".to_v")));
        Assert.Equal(unetTargets, loaded.Entries.Count(e => e.Component == LoraAdapter.UNet));
        Assert.Equal(3, loaded.Entries.Count(e => e.Component == LoraAdapter.TextEncoder)); // one q_proj per text encoder layer
        Assert.All(loaded.Entries, e => Assert.Equal(2, e.Weights.Rank));
        var viaFile = _fixture.Pipeline.Generate(plain with { Loras = [(loaded, 1.0)], MergeLoras = false });
        Assert.Equal(viaRun, viaFile[0].Rgb);
    }

    [Theory]
    [InlineData("""{"rank": 0}""", "rank")]
    [InlineData("""{"rank": 2.5}""", "rank")]
    [InlineData("""{"alpha": -1}""", "alpha")]
    [InlineData("""{"target_modules": []}""", "target_modules")]
    [InlineData("""{"target_modules": ["to_q", "no_such_layer"]}""", "target_modules")]
    [InlineData("""{"rnak": 4}""", "rnak")]
    public void Bad_parameter_is_refused_naming_it_and_leaves_the_model_as_it_was(string parameters, string name)
    {
        var settings = _fixture.Settings(FineTuneFixture.Stars(Caption), "run", parameters, steps: 5, 1e-3);

        var error = Assert.Throws<ArgumentException>(() => _method.Start(_fixture.Pipeline, settings));

        Assert.Equal(name, error.ParamName);
        Assert.Contains($"'{name}'", error.Message);
        Assert.All(Layers, l => Assert.Empty(l.Adapters));
        Assert.All(_fixture.Pipeline.UNet.parameters(), p => Assert.True(p.requires_grad));
    }
}
