using Easel.Inference.Training;

namespace Easel.Inference.Tests.Customization;

/// <summary>Keeps every progress report, synchronously (Progress&lt;T&gt; would post them to the thread pool).</summary>
internal sealed class TrainingProgressRecorder : IProgress<TrainingProgress>
{
    public List<TrainingProgress> Reports { get; } = [];

    public void Report(TrainingProgress value) => Reports.Add(value);
}
