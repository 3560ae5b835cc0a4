namespace Easel.Core.Jobs;

/// <summary>Hands a stored job to the queue that runs it. Only the job id travels; the row holds everything else.</summary>
public interface IJobDispatcher
{
    /// <summary>Enqueues the job; returns the queue's own id for it (for logs).</summary>
    string Dispatch(Job job);

    /// <summary>
    /// Enqueues a job that lost its worker after it had been handed out (fetched, or claimed and running) ahead of every
    /// waiting job: it had been chosen to run next already, so it keeps that place instead of queuing behind jobs that came
    /// after it.
    /// </summary>
    string DispatchAhead(Job job);
}
