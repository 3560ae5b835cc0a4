using Easel.Inference.Pipelines;
using Easel.Inference.Training;

namespace Easel.Inference.Customization;

/// <summary>One training example: an image at the run's resolution and its caption.</summary>
public sealed record FineTuneExample(InputImage Image, string Caption);

/// <summary>
/// What every fine-tune method is given. Method-specific fields (rank and alpha for LoRA, the placeholder token and
/// its initialiser for textual inversion, later the class prompt of DreamBooth or the text pair of a slider) are
/// read by the method from <see cref="Parameters"/>, which is stored verbatim in the artifact's lineage.
/// </summary>
/// <param name="Steps">Optimiser steps of the whole run (the learning-rate schedule spans them).</param>
/// <param name="CheckpointEvery">Steps between checkpoints in <see cref="FineTuneSettings.CheckpointFolder"/>.</param>
/// <param name="CheckpointFolder">A local folder the run writes its checkpoints to and resumes from.</param>
public sealed record FineTuneSettings(
    IReadOnlyList<FineTuneExample> Examples,
    int Steps,
    double LearningRate,
    int BatchSize,
    int Seed,
    string CheckpointFolder,
    IReadOnlyDictionary<string, System.Text.Json.JsonElement> Parameters,
    int CheckpointEvery = 50);

/// <summary>A trained artifact written to a folder: its files (first = the main file), format and metadata.</summary>
/// <param name="Kind">"lora", "embedding", later "slider", "checkpoint", …</param>
/// <param name="Format">The layout of the main file ("diffusers", "kohya", "peft", "a1111").</param>
/// <param name="Metadata">Rank, alpha, target modules, trigger tokens, vector count, … (stored with the artifact row).</param>
public sealed record FineTuneArtifact(string Kind, string Format, IReadOnlyList<string> Files, IReadOnlyDictionary<string, object?> Metadata);

/// <summary>
/// A fine-tune method (LoRA, textual inversion, DreamBooth, sliders, …): it trains against one loaded, otherwise
/// frozen pipeline. Implementations live in their method's folder and stand on <see cref="TrainingLoop"/>.
/// </summary>
public interface IFineTuneMethod
{
    /// <summary>The request's <c>method</c> value ("lora", "textual_inversion").</summary>
    string Name { get; }

    /// <summary>
    /// Prepares a run: installs what it trains on <paramref name="pipeline"/> (removed again when the run is disposed)
    /// and resumes from <see cref="FineTuneSettings.CheckpointFolder"/> when it holds a checkpoint.
    /// </summary>
    /// <exception cref="ArgumentException">A parameter the method cannot use (names the parameter).</exception>
    IFineTuneRun Start(StableDiffusionPipeline pipeline, FineTuneSettings settings);
}

/// <summary>
/// One fine-tune in progress. A run that is stopped (cancel, a yield to waiting generations, a killed worker) and
/// started again from its checkpoint folder ends with the same weights as an uninterrupted run with the same seed:
/// each step's randomness comes from the seed and the step number.
/// </summary>
public interface IFineTuneRun : IDisposable
{
    int TotalSteps { get; }

    /// <summary>The next step to run (after a resume, the step after the checkpoint).</summary>
    int Step { get; }

    /// <summary>Runs steps until <paramref name="stopAt"/> (at most <see cref="TotalSteps"/>) and checkpoints there.</summary>
    void RunUntil(int stopAt, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default);

    /// <summary>Generates with the weights as trained so far (validation images); the request may use the run's token.</summary>
    IReadOnlyList<GeneratedImage> Generate(TextToImageRequest request, CancellationToken cancellationToken = default);

    /// <summary>Writes the trained artifact into <paramref name="folder"/>.</summary>
    FineTuneArtifact Export(string folder);
}
