using System.Text.Json;
using Easel.Inference.Customization;
using Easel.Inference.Pipelines;
using Easel.Inference.Shapes;
using Easel.Inference.Tests.Parity;
using Easel.Inference.Training;

namespace Easel.Inference.Tests.Customization;

/// <summary>
/// The bundled shapes model and four 64×64 images of one purple star (different places and sizes) for the fine-tune tests,
/// with a temporary folder per test for checkpoints and exports.
/// </summary>
public sealed class FineTuneFixture : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"easel-finetune-{Guid.NewGuid():N}");

    public FineTuneFixture()
    {
        Pipeline = StableDiffusionPipeline.Load(Path.Combine(ParityFixtures.RepositoryRoot(), "models", "easel-shapes"), new PipelineOptions("cpu", "float32"));
        Directory.CreateDirectory(_folder);
    }

    public StableDiffusionPipeline Pipeline { get; }

    /// <summary>A plain generation of the bundled model (2 DDIM steps keep it fast).</summary>
    public static TextToImageRequest Request(string prompt) => new(prompt, "", 64, 64, 2, 7.5, 7);

    /// <summary>A sub-folder of the test's temporary folder (not created).</summary>
    public string Folder(string name) => Path.Combine(_folder, name);

    /// <summary>Four purple stars on grey, each captioned <paramref name="caption"/>.</summary>
    public static IReadOnlyList<FineTuneExample> Stars(string caption) =>
        new[] { (20.0, 22.0, 10.0), (42.0, 24.0, 11.0), (30.0, 40.0, 12.0), (36.0, 32.0, 9.5) }
            .Select(p =>
            {
                var star = new SceneObject(ShapeKind.Star, ShapeColor.Purple, ShapeSize.Large, p.Item1, p.Item2, p.Item3);
                var rgb = ShapeRenderer.Render(new Scene(new Rgb(200, 200, 200), [star]));
                return new FineTuneExample(InputImage.FromRgb(ShapeRenderer.Size, ShapeRenderer.Size, rgb), caption);
            })
            .ToList();

    /// <summary>Run settings over <paramref name="examples"/> checkpointing into <paramref name="checkpoints"/>; parameters as JSON.</summary>
    public FineTuneSettings Settings(IReadOnlyList<FineTuneExample> examples, string checkpoints, string parametersJson, int steps, double learningRate,
        int checkpointEvery = 50) =>
        new(examples, steps, learningRate, BatchSize: 2, Seed: 1234, Folder(checkpoints),
            JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(parametersJson)!, checkpointEvery);

    public void Dispose()
    {
        Pipeline.Dispose();
        if (Directory.Exists(_folder))
            Directory.Delete(_folder, recursive: true);
    }
}
