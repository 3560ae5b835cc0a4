using Easel.Core.Data;
using Easel.Core.Generation;
using Easel.Core.Jobs;
using Easel.Core.Models;
using Easel.Core.Options;
using Easel.Core.Storage;
using Easel.Core.Telemetry;
using Easel.Core.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Easel.Core;

public static class CoreServiceCollectionExtensions
{
    /// <summary>
    /// Options (validated at start-up), the database (provider chosen from <c>Easel:Database:Provider</c> when the
    /// first context is created), the blob store, the model catalogue (local configuration + the workers' registrations),
    /// request validation and metrics.
    /// </summary>
    public static IServiceCollection AddEaselCore(this IServiceCollection services)
    {
        services.AddOptions<EaselOptions>().BindConfiguration(EaselOptions.Section)
            .ValidateDataAnnotationsNamingKeys(EaselOptions.Section).ValidateOnStart();
        services.AddOptions<DatabaseOptions>()
            .BindConfiguration(DatabaseOptions.Section)
            .Configure<IConfiguration>((o, configuration) => o.ConnectionString ??= configuration.GetConnectionString("Easel"))
            .ValidateDataAnnotationsNamingKeys(DatabaseOptions.Section)
            .ValidateOnStart();
        // The bundled model is added by the processes that run jobs (AddEaselJobServers), not by an API in front of workers.
        services.AddOptions<ModelsOptions>().BindConfiguration(ModelsOptions.Section)
            .ValidateDataAnnotationsNamingKeys(ModelsOptions.Section).ValidateOnStart();
        services.AddOptions<JobsOptions>().BindConfiguration(JobsOptions.Section)
            .ValidateDataAnnotationsNamingKeys(JobsOptions.Section).ValidateOnStart();
        services.AddOptions<GenerationOptions>().BindConfiguration(GenerationOptions.Section)
            .ValidateDataAnnotationsNamingKeys(GenerationOptions.Section).ValidateOnStart();
        services.AddOptions<FineTunes.FineTuneOptions>().BindConfiguration(FineTunes.FineTuneOptions.Section)
            .ValidateDataAnnotationsNamingKeys(FineTunes.FineTuneOptions.Section).ValidateOnStart();
        services.AddOptions<WebhookOptions>().BindConfiguration(WebhookOptions.Section)
            .ValidateDataAnnotationsNamingKeys(WebhookOptions.Section).ValidateOnStart();
        services.AddOptions<WorkerOptions>().BindConfiguration(WorkerOptions.Section)
            .ValidateDataAnnotationsNamingKeys(WorkerOptions.Section).ValidateOnStart();

        services.AddDbContext<SqliteEaselDbContext>((sp, builder) =>
        {
            var (connectionString, _) = ConnectionString(sp);
            builder.UseSqlite(connectionString)
                .AddInterceptors(sp.GetRequiredService<WebhookOutboxInterceptor>(), sp.GetRequiredService<JobCompletionSignal.Interceptor>());
        });
        services.AddDbContext<PostgresEaselDbContext>((sp, builder) =>
        {
            var (connectionString, _) = ConnectionString(sp);
            builder.UseNpgsql(connectionString)
                .AddInterceptors(sp.GetRequiredService<WebhookOutboxInterceptor>(), sp.GetRequiredService<JobCompletionSignal.Interceptor>());
        });
        services.AddScoped<EaselDbContext>(sp =>
            sp.GetRequiredService<IOptions<DatabaseOptions>>().Value.Provider == DatabaseProvider.Postgres
                ? sp.GetRequiredService<PostgresEaselDbContext>()
                : sp.GetRequiredService<SqliteEaselDbContext>());

        services.AddSingleton<JobCompletionSignal>();
        services.AddSingleton<JobCompletionSignal.Interceptor>();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<WebhookOutboxSignal>();
        services.AddSingleton<WebhookOutboxInterceptor>();
        services.AddSingleton<IBlobStore, FileSystemBlobStore>();
        services.AddScoped<Artifacts.ArtifactResolver>();
        services.AddSingleton<ILocalModels, ConfiguredModels>();
        services.AddSingleton<LocalWorkerRegistrations>();
        services.AddSingleton<IModelCatalog, ModelCatalog>();
        services.AddSingleton<GenerationRequestValidator>();
        services.AddSingleton<Editing.EditRequestValidator>();
        services.AddSingleton<FineTunes.FineTuneRequestValidator>();
        // SchedulerCatalog itself is registered by AddEaselWorkers, which fills it from the inference core's registry.
        services.AddSingleton<IValidateOptions<GenerationOptions>, DefaultSchedulerValidation>();
        services.AddSingleton<IValidateOptions<ModelsOptions>, ModelDefaultsValidation>();
        services.AddMetrics();
        services.AddSingleton<EaselMetrics>();
        return services;
    }

    /// <summary>
    /// Creates the data folder, opens one connection to PostgreSQL, and applies pending migrations when
    /// <c>Easel:Database:MigrateOnStart</c> says so. The connection makes an unreachable server fail here, before the host
    /// starts, rather than inside a Hangfire server's start with the host's error log and its drain.
    /// </summary>
    public static async Task MigrateEaselDatabaseAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        var easel = services.GetRequiredService<IOptions<EaselOptions>>().Value;
        var database = services.GetRequiredService<IOptions<DatabaseOptions>>().Value;
        Directory.CreateDirectory(easel.DataDirFullPath);
        if (database.Provider == DatabaseProvider.Postgres)
        {
            await using var connection = new NpgsqlConnection(database.ResolveConnectionString(easel));
            await connection.OpenAsync(cancellationToken);
        }
        if (!database.ShouldMigrateOnStart)
            return;
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<EaselDbContext>();
        var logger = scope.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger("Easel.Core.Data.Migrations");
        await DatabaseMigration.ApplyAsync(db, database.Provider, logger, cancellationToken);
        if (database.Provider == DatabaseProvider.Sqlite)
        {
            // Write-ahead logging (persistent in the file): readers (API polls, the outbox poll) no longer block the
            // worker's writes, which otherwise wait in Microsoft.Data.Sqlite's busy retries of 150 ms each.
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        }
    }

    private static (string ConnectionString, DatabaseProvider Provider) ConnectionString(IServiceProvider sp)
    {
        var easel = sp.GetRequiredService<IOptions<EaselOptions>>().Value;
        var database = sp.GetRequiredService<IOptions<DatabaseOptions>>().Value;
        if (database.Provider == DatabaseProvider.Sqlite)
            Directory.CreateDirectory(easel.DataDirFullPath);
        return (database.ResolveConnectionString(easel), database.Provider);
    }
}
