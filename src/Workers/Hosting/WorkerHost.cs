using Easel.Core;
using Easel.Core.Options;
using Easel.Workers.Webhooks;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Easel.Workers.Hosting;

/// <summary>
/// The worker process: Hangfire servers for the device queues (one job at a time) and housekeeping against the shared
/// PostgreSQL, plus /healthz, /readyz and /metrics on its own address (<c>--urls</c>). Same configuration keys as the API
/// (Easel:Database:Provider, ConnectionStrings:Easel, Easel:Models:&lt;name&gt;:Path, Easel:DefaultModel, Easel:DataDir, which
/// must be the same blob store the API reads). Logs are JSON lines with their scopes, so a job's lines carry its JobId.
/// SIGTERM drains: no new job is taken and the running one gets Easel:Workers:DrainTimeout (see AddEaselJobServers).
/// </summary>
public static class WorkerHost
{
    public static Task<int> RunAsync(string[] args) => StartupRefusal.RunAsync(async () =>
    {
        var builder = WebApplication.CreateBuilder(MigrateCommand.HostArguments(args));
        builder.AddEaselWorkerProcess();
        await using var app = builder.Build();
        if (MigrateCommand.IsRequested(args))
            return await MigrateCommand.RunAsync(app.Services);

        StartupRefusal.ValidateOptions(app.Services);
        if (app.Services.GetRequiredService<IOptions<DatabaseOptions>>().Value.Provider != DatabaseProvider.Postgres)
            throw new OptionsValidationException(DatabaseOptions.Section, typeof(DatabaseOptions),
                ["The worker process needs Easel:Database:Provider = postgres: its queue is shared through PostgreSQL. "
                 + "In the embedded mode (SQLite) the API runs the jobs itself."]);
        await app.Services.MigrateEaselDatabaseAsync();
        app.MapEaselProbes();
        await app.RunAsync();
        return 0;
    });

    public static WebApplicationBuilder AddEaselWorkerProcess(this WebApplicationBuilder builder)
    {
        builder.Logging.ClearProviders();
        builder.Logging.AddJsonConsole(o =>
        {
            o.IncludeScopes = true;
            o.UseUtcTimestamp = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
        });
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.EntityFrameworkCore", LogLevel.Warning);

        var services = builder.Services;
        services.AddEaselCore();
        services.AddEaselWorkers();
        services.AddEaselHangfire();
        services.AddEaselJobServers("worker");
        services.AddEaselWebhookDelivery();
        services.AddEaselTelemetry("easel-worker");
        services.AddEaselHealthChecks();
        return builder;
    }
}
