namespace Easel.Core.Jobs;

/// <summary>Hands a stored job to the queue that runs it. Only the job id travels; the row holds everything else.</summary>
public interface IJobDispatcher
{
    /// <summary>Enqueues the job; returns the queue's own id for it (for logs).</summary>
    string Dispatch(Job job);
}
