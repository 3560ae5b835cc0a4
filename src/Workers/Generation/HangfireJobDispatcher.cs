using Easel.Core.Jobs;
using Hangfire;

namespace Easel.Workers.Generation;

/// <summary>Enqueues jobs in Hangfire, carrying only the job id, on the queue of the job's kind.</summary>
public sealed class HangfireJobDispatcher(IBackgroundJobClient client) : IJobDispatcher
{
    public string Dispatch(Job job) => job.Kind switch
    {
        JobKind.Generation => client.Enqueue<GenerationJobRunner>(
            GenerationJobRunner.Queue, runner => runner.RunAsync(job.Id, CancellationToken.None)),
        _ => throw new NotSupportedException($"No runner for jobs of kind {job.Kind}."),
    };
}
