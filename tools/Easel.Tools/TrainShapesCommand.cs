using Easel.Inference.Training;
using TorchSharp;

namespace Easel.Tools;

/// <summary>Trains the bundled shapes model (resuming from the work folder's checkpoints).</summary>
internal static class TrainShapesCommand
{
    public static int Run(Options options) => Run(options, exportOnly: false);

    /// <summary>Writes the model folder from the latest checkpoints of an unfinished run.</summary>
    public static int Export(Options options) => Run(options, exportOnly: true);

    private static int Run(Options options, bool exportOnly)
    {
        var defaults = new ShapesTrainingSettings();
        var settings = defaults with
        {
            VaeSteps = options.Int("vae-steps", defaults.VaeSteps),
            DiffusionSteps = options.Int("diffusion-steps", defaults.DiffusionSteps),
            LatentPool = options.Int("pool", defaults.LatentPool),
            DiffusionBatch = options.Int("batch", defaults.DiffusionBatch),
            DiffusionPredictionType = options.OptionalString("diffusion-prediction", defaults.DiffusionPredictionType),
            DiffusionZeroTerminalSnr = options.OptionalBool("diffusion-zero-snr", defaults.DiffusionZeroTerminalSnr),
            DiffusionStopAfter = options.OptionalInt("diffusion-stop-after", defaults.DiffusionStopAfter),
            StartFrom = options.OptionalString("start-from", defaults.StartFrom),
            TextEncoderFrom = options.OptionalString("text-encoder-from", defaults.TextEncoderFrom),
            TextEncoderLearningRateScale = options.Double("text-encoder-lr-scale", defaults.TextEncoderLearningRateScale),
            RefineSteps = options.Int("refine-steps", defaults.RefineSteps),
            RefineLearningRate = options.Double("refine-lr", defaults.RefineLearningRate),
            RefineEmphasis = options.Double("refine-emphasis", defaults.RefineEmphasis),
            RefineEmphasisFrom = options.Int("refine-emphasis-from", defaults.RefineEmphasisFrom),
            RefineEmphasisTo = options.Int("refine-emphasis-to", defaults.RefineEmphasisTo),
            RefineHighNoiseWeightCap = options.Double("refine-weight-cap", defaults.RefineHighNoiseWeightCap),
        };
        var template = options.String("template", "models/easel-shapes");
        var output = options.String("out", template);
        var work = options.String("work", Path.Combine(Path.GetTempPath(), "easel-shapes-training"));
        torch.set_num_threads(Math.Max(1, Environment.ProcessorCount));
        Console.WriteLine($"training {output} from {template}; checkpoints in {work}; {settings}");
        var recipe = new ShapesModelRecipe(template, output, work, settings);
        if (exportOnly)
        {
            recipe.ExportLatestCheckpoint(message => Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss} {message}"));
            return 0;
        }
        var started = DateTime.UtcNow;
        var progress = new SynchronousProgress<TrainingProgress>(p =>
            Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss} {p.Phase} {p.Step}/{p.TotalSteps} loss {p.Loss:F5} lr {p.LearningRate:G3} {p.StepsPerSecond:F2} steps/s"));
        recipe.Run(progress, message => Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss} {message}"));
        Console.WriteLine($"done in {DateTime.UtcNow - started:hh\\:mm\\:ss}");
        return 0;
    }
}

/// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool and reorder lines).</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
