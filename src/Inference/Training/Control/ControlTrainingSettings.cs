namespace Easel.Inference.Training.Control;

/// <summary>Sizes and rates of a control-model training run on the bundled shapes model.</summary>
public sealed record ControlTrainingSettings
{
    /// <summary>Seeds the scenes (a stream of its own, apart from the base model's training scenes) and every step's draws.</summary>
    public ulong Seed { get; init; } = 20261203;
    public int Steps { get; init; } = 2000;
    public int Batch { get; init; } = 32;
    public double LearningRate { get; init; } = 2e-4;
    public int WarmupSteps { get; init; } = 100;

    /// <summary>
    /// The share of captions replaced by the empty prompt. ControlNet's authors drop half of them (Zhang et al. 2023,
    /// §3.2), so that the model must read the condition rather than lean on the caption; it also trains the unconditional
    /// branch of classifier-free guidance with the condition applied, as inference applies it.
    /// </summary>
    public double UnconditionalRate { get; init; } = 0.5;
    public int CheckpointEvery { get; init; } = 250;

    /// <summary>When set, the run ends at this step (the learning-rate schedule still spans <see cref="Steps"/>).</summary>
    public int? StopAfter { get; init; }
}
