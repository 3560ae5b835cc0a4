using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Easel.Workers.Hosting;

/// <summary>
/// For the tests that kill a worker at an exact moment of a job's life: with <c>EASEL_TEST_SIGKILL_AT</c> set to the name
/// of a point (<see cref="Fetched"/>, <see cref="Claimed"/>), the process sends itself SIGKILL when a job reaches it, so
/// it dies as a killed worker does, with nothing handed back. Unset (always, outside those tests) it does nothing.
/// </summary>
public static class TestKillPoint
{
    public const string Variable = "EASEL_TEST_SIGKILL_AT";

    /// <summary>Hangfire has fetched the job and marked it Processing on this server; the row is not claimed yet.</summary>
    public const string Fetched = "fetched";

    /// <summary>The row has just been claimed (running, attempt counted, heartbeat written once).</summary>
    public const string Claimed = "claimed";

    private static readonly string? Armed = Environment.GetEnvironmentVariable(Variable);

    public static void Reach(string point, Guid jobId, ILogger logger)
    {
        if (!string.Equals(Armed, point, StringComparison.Ordinal))
            return;
        logger.LogWarning("{Variable}={Point}: job {JobId} reached it; this process kills itself", Variable, point, jobId);
        Process.GetCurrentProcess().Kill();
    }
}
