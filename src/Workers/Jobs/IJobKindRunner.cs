using Easel.Core.Artifacts;
using Easel.Core.Data;
using Easel.Core.Images;
using Easel.Core.Jobs;

namespace Easel.Workers.Jobs;

/// <summary>
/// What one kind of job does once claimed (a generation, a fine-tune). Everything around it is shared by
/// <see cref="JobRunner"/>: claim, heartbeat and cancel (<see cref="RunningJobWatcher"/>), progress rows and events
/// (<see cref="JobProgressWriter"/>), hand-back on shutdown, failure reasons, storing results, metrics; recovery and
/// retention work on the row whatever its kind. A kind registers its request type and validation in Core, its queue in
/// <see cref="WorkerQueues.ForJob"/> and this runner in DI.
/// </summary>
public interface IJobKindRunner
{
    JobKind Kind { get; }

    /// <summary>Runs the claimed job; throws to fail it (the message is the reason), or OperationCanceledException when stopped.</summary>
    Task<JobResults> RunAsync(JobRun run);
}

/// <param name="Job">The job as claimed (a snapshot; the row changes only through the shared runner).</param>
/// <param name="Db">The runner's context, for reads (artifacts, inputs).</param>
/// <param name="CancellationToken">Canceled by a cancel request, a passed cancel_after, a lost claim or shutdown.</param>
public sealed record JobRun(Job Job, EaselDbContext Db, JobProgressWriter Progress, CancellationToken CancellationToken);

/// <summary>
/// What a finished job stores with its succeeded transition: images (PNG bytes, put in the blob store by the runner) and
/// artifact rows (their files already in the blob store), the step count shown as its final progress, and jobs it
/// submits (queued in the same transaction, so they exist exactly when the job succeeded — Imagic's first render).
/// </summary>
public sealed record JobResults(IReadOnlyList<(Image Row, ReadOnlyMemory<byte> Png)> Images, IReadOnlyList<Artifact> Artifacts, int Steps)
{
    public IReadOnlyList<Job> FollowUps { get; init; } = [];
}
