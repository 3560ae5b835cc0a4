using Easel.Inference.Training;
using Easel.Inference.Training.Control;
using TorchSharp;

namespace Easel.Tools;

/// <summary>Trains one of the bundled shapes model's control models (resuming from the work folder's checkpoints).</summary>
internal static class TrainControlCommand
{
    public static int Run(Options options)
    {
        var kind = options.String("kind", "controlnet-edges");
        var defaults = new ControlTrainingSettings();
        var settings = defaults with
        {
            Seed = (ulong)options.Int("seed", (int)defaults.Seed),
            Steps = options.Int("steps", defaults.Steps),
            Batch = options.Int("batch", defaults.Batch),
            LearningRate = options.Double("lr", defaults.LearningRate),
            UnconditionalRate = options.Double("unconditional-rate", defaults.UnconditionalRate),
            CheckpointEvery = options.Int("checkpoint-every", defaults.CheckpointEvery),
            StopAfter = options.OptionalInt("stop-after", defaults.StopAfter),
        };
        var baseModel = options.String("base", "models/easel-shapes");
        var output = options.String("out", $"models/easel-shapes-{kind}");
        var work = options.String("work", Path.Combine(Path.GetTempPath(), $"easel-shapes-{kind}-training"));
        torch.set_num_threads(Math.Max(1, Environment.ProcessorCount));
        Console.WriteLine($"training {kind} for {baseModel} into {output}; checkpoints in {work}; {settings}");
        var progress = new SynchronousProgress<TrainingProgress>(p =>
            Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss} {p.Phase} {p.Step}/{p.TotalSteps} loss {p.Loss:F5} lr {p.LearningRate:G3} {p.StepsPerSecond:F2} steps/s"));
        void Log(string message) => Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss} {message}");
        var started = DateTime.UtcNow;
        switch (kind)
        {
            case "controlnet-edges":
                new ControlNetEdgesRecipe(baseModel, output, work, settings).Run(progress, Log);
                break;
            case "t2i-color":
                new T2IColorAdapterRecipe(baseModel, output, work, settings).Run(progress, Log);
                break;
            case "gligen":
                new GligenBoxesRecipe(baseModel, output, work, settings).Run(progress, Log);
                break;
            default:
                Console.Error.WriteLine($"--kind must be controlnet-edges, t2i-color or gligen, not '{kind}'.");
                return 2;
        }
        Console.WriteLine($"done in {DateTime.UtcNow - started:hh\\:mm\\:ss}");
        return 0;
    }
}
