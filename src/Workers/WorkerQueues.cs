using Easel.Core.Jobs;

namespace Easel.Workers;

/// <summary>
/// The Hangfire queues and which server of a process serves them. Work is routed by model and priority band: a generation
/// for model m goes to <c>gpu_{band}_{m}</c>, a fine-tune to <c>train_{m}</c> (model names folded to <c>[a-z0-9_]</c>), and a
/// worker listens only to the queues of the models it serves, so in a mixed fleet each job reaches a worker that has its
/// model (an edit goes where a generation of its model goes, Imagic's training where a fine-tune goes). The device server runs one job at a time (a GPU holds one model and one batch); housekeeping runs beside it so
/// that it never waits behind a long generation. Hangfire.InMemory fetches from the queues in the order listed,
/// Hangfire.PostgreSql (1.21) in the alphabetical order of their names; with the band before the model both take every
/// model's high band before any normal one. Hangfire queue names are lowercase letters, digits and underscores.
/// </summary>
public static class WorkerQueues
{
    public const string GpuHigh = "gpu_1_high";
    public const string GpuNormal = "gpu_2_normal";
    public const string GpuLow = "gpu_3_low";

    /// <summary>The GPU bands in the order a server serves them.</summary>
    public static readonly string[] Gpu = [GpuHigh, GpuNormal, GpuLow];

    /// <summary>
    /// The band of jobs whose worker died after they had been handed out (see <c>IJobDispatcher.DispatchAhead</c>), served
    /// before every other band, as such a job was already the next to run. A new Hangfire job would otherwise queue behind
    /// every waiting one (Hangfire.PostgreSql fetches by queue name, then by Hangfire job id). Its name sorts before the bands.
    /// </summary>
    public const string Redelivery = "gpu_0_redelivery";

    /// <summary>Fine-tunes; on the device server too, since they need the same device.</summary>
    public const string Train = "train";

    /// <summary>Housekeeping (retention).</summary>
    public const string Default = "default";

    /// <summary>The queues of the housekeeping server.</summary>
    public static readonly string[] Housekeeping = [Default];

    /// <summary>Workers of the housekeeping server: its jobs are short and mostly wait on the database.</summary>
    public const int HousekeepingWorkers = 2;

    /// <summary>priority &gt; 0 → gpu_1_high, 0 → gpu_2_normal, &lt; 0 → gpu_3_low.</summary>
    public static string ForPriority(int priority) => priority switch
    {
        > 0 => GpuHigh,
        < 0 => GpuLow,
        _ => GpuNormal,
    };

    /// <summary>The queue of a generation for <paramref name="model"/> at <paramref name="priority"/>.</summary>
    public static string ForGeneration(string model, int priority) => $"{ForPriority(priority)}_{Fold(model)}";

    /// <summary>The queue of fine-tunes on <paramref name="model"/>.</summary>
    public static string ForTraining(string model) => $"{Train}_{Fold(model)}";

    /// <summary>The queue a job is dispatched to.</summary>
    public static string ForJob(Job job) => job.Kind switch
    {
        JobKind.Edit when Core.Editing.EditParameters.TrainsIn(job.Request) => ForTraining(job.Model ?? throw new InvalidOperationException($"Job {job.Id} names no model.")),
        JobKind.Generation or JobKind.Edit => ForGeneration(job.Model ?? throw new InvalidOperationException($"Job {job.Id} names no model."), job.Priority),
        JobKind.FineTune => ForTraining(job.Model ?? throw new InvalidOperationException($"Job {job.Id} names no model.")),
        _ => throw new NotSupportedException($"No queue for jobs of kind {job.Kind}."),
    };

    /// <summary>The queue a job that lost its worker after it was handed out is dispatched to again.</summary>
    public static string ForRedelivery(Job job) => job.Kind switch
    {
        JobKind.Edit when Core.Editing.EditParameters.TrainsIn(job.Request) => ForJob(job),
        JobKind.Generation or JobKind.Edit => $"{Redelivery}_{Fold(job.Model ?? throw new InvalidOperationException($"Job {job.Id} names no model."))}",
        // A fine-tune resumes from its checkpoint wherever it is taken up; it need not overtake waiting generations.
        JobKind.FineTune => ForJob(job),
        _ => throw new NotSupportedException($"No queue for jobs of kind {job.Kind}."),
    };

    /// <summary>The queues of the device server of a worker serving <paramref name="models"/>, in the order it looks at them.</summary>
    public static string[] Device(IEnumerable<string> models)
    {
        var folded = models.Select(Fold).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        return [.. new[] { Redelivery }.Concat(Gpu).SelectMany(band => folded.Select(m => $"{band}_{m}")), .. folded.Select(m => $"{Train}_{m}")];
    }

    /// <summary>A model name as it appears in queue names: lowercase, every character outside [a-z0-9_] as '_'.</summary>
    public static string Fold(string model) =>
        string.Create(model.Length, model, (span, name) =>
        {
            for (var i = 0; i < name.Length; i++)
            {
                var c = char.ToLowerInvariant(name[i]);
                span[i] = c is >= 'a' and <= 'z' or >= '0' and <= '9' or '_' ? c : '_';
            }
        });
}
