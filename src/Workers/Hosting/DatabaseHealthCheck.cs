using Easel.Core.Data;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Easel.Workers.Hosting;

/// <summary>Ready when the job database answers.</summary>
public sealed class DatabaseHealthCheck(EaselDbContext db) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            return await db.Database.CanConnectAsync(cancellationToken)
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy("The database does not answer.");
        }
        catch (Exception e)
        {
            return HealthCheckResult.Unhealthy("The database does not answer.", e);
        }
    }
}
