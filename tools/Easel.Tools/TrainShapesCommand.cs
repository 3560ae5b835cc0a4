using Easel.Inference.Training;
using TorchSharp;

namespace Easel.Tools;

/// <summary>Trains the bundled shapes model (resuming from the work folder's checkpoints).</summary>
internal static class TrainShapesCommand
{
    public static int Run(Options options)
    {
        var defaults = new ShapesTrainingSettings();
        var settings = defaults with
        {
            VaeSteps = options.Int("vae-steps", defaults.VaeSteps),
            DiffusionSteps = options.Int("diffusion-steps", defaults.DiffusionSteps),
            LatentPool = options.Int("pool", defaults.LatentPool),
            DiffusionBatch = options.Int("batch", defaults.DiffusionBatch),
        };
        var template = options.String("template", "models/easel-shapes");
        var output = options.String("out", template);
        var work = options.String("work", ".work/easel-shapes");
        torch.set_num_threads(Math.Max(1, Environment.ProcessorCount));
        Console.WriteLine($"training {output} from {template}; checkpoints in {work}; {settings}");
        var started = DateTime.UtcNow;
        var progress = new SynchronousProgress<TrainingProgress>(p =>
            Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss} {p.Phase} {p.Step}/{p.TotalSteps} loss {p.Loss:F5} lr {p.LearningRate:G3} {p.StepsPerSecond:F2} steps/s"));
        new ShapesModelRecipe(template, output, work, settings).Run(progress, message => Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss} {message}"));
        Console.WriteLine($"done in {DateTime.UtcNow - started:hh\\:mm\\:ss}");
        return 0;
    }
}

/// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool and reorder lines).</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
