namespace Easel.Workers.Jobs;

/// <summary>
/// Thrown by a kind's runner that stops on purpose with its state saved (a fine-tune between checkpoints, for waiting
/// generations): <see cref="JobRunner"/> hands the claim back and dispatches the job again, neither failing nor counting it.
/// </summary>
public sealed class JobYieldedException(string reason) : Exception(reason);
