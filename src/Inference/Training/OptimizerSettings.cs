namespace Easel.Inference.Training;

/// <summary>AdamW with linear warm-up then cosine decay to <see cref="FinalLearningRateFraction"/> of the peak.</summary>
public sealed record OptimizerSettings
{
    public double LearningRate { get; init; } = 1e-3;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Epsilon { get; init; } = 1e-8;
    public double WeightDecay { get; init; } = 1e-2;
    public double MaxGradNorm { get; init; } = 1.0;
    public int WarmupSteps { get; init; } = 200;
    public double FinalLearningRateFraction { get; init; } = 0.05;

    /// <summary>The learning rate at <paramref name="step"/> of <paramref name="totalSteps"/>.</summary>
    public double LearningRateAt(int step, int totalSteps)
    {
        if (step < WarmupSteps)
            return LearningRate * (step + 1) / WarmupSteps;
        var progress = Math.Clamp((double)(step - WarmupSteps) / Math.Max(1, totalSteps - WarmupSteps), 0, 1);
        var cosine = 0.5 * (1 + Math.Cos(Math.PI * progress));
        return LearningRate * (FinalLearningRateFraction + (1 - FinalLearningRateFraction) * cosine);
    }
}

/// <summary>Reported every few steps of a training phase.</summary>
public sealed record TrainingProgress(string Phase, int Step, int TotalSteps, double Loss, double LearningRate, double StepsPerSecond);
