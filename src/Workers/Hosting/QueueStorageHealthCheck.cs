using Hangfire;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Easel.Workers.Hosting;

/// <summary>Ready when Hangfire's storage answers a read (for PostgreSQL, its schema is installed and reachable).</summary>
public sealed class QueueStorageHealthCheck(JobStorage storage) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            using var connection = storage.GetConnection();
            connection.GetAllItemsFromSet("recurring-jobs");
            return Task.FromResult(HealthCheckResult.Healthy());
        }
        catch (Exception e)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("The queue storage does not answer.", e));
        }
    }
}
