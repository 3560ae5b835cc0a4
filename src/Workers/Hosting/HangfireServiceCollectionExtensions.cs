using Easel.Core.Models;
using Easel.Core.Options;
using Easel.Workers.Housekeeping;
using Hangfire;
using Hangfire.InMemory;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Easel.Workers.Hosting;

public static class HangfireServiceCollectionExtensions
{
    /// <summary>The Hangfire schema in PostgreSQL; its own installer manages it, EF does not.</summary>
    public const string PostgresSchema = "hangfire";

    /// <summary>
    /// The Hangfire client and its storage, as a per-host <see cref="JobStorage"/> service (not the process-wide
    /// JobStorage.Current), so that several hosts in one process (tests) keep their own queues. In-memory in the embedded
    /// mode (SQLite); Hangfire.PostgreSql, schema "hangfire", LISTEN/NOTIFY long polling (a 1 s poll as the fallback) and a
    /// sliding invisibility timeout with PostgreSQL.
    /// </summary>
    public static IServiceCollection AddEaselHangfire(this IServiceCollection services)
    {
        services.AddSingleton<JobStorage>(sp =>
        {
            sp.GetRequiredService<IGlobalConfiguration>(); // serializer settings and log provider first, as Hangfire's own registrations do
            var database = sp.GetRequiredService<IOptions<DatabaseOptions>>().Value;
            if (database.Provider != DatabaseProvider.Postgres)
                return new InMemoryStorage(new InMemoryStorageOptions());
            var options = PostgresStorageOptions();
            var connectionString = database.ResolveConnectionString(sp.GetRequiredService<IOptions<EaselOptions>>().Value);
            return new PostgreSqlStorage(new NpgsqlConnectionFactory(connectionString, options), options);
        });
        services.AddHangfire(config => config
            .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
            .UseSimpleAssemblyNameTypeSerializer()
            .UseRecommendedSerializerSettings());
        return services;
    }

    /// <summary>
    /// The job servers of a process that runs jobs (the worker process, or the API in the embedded mode): the device server
    /// (the gpu and train queues of the models it serves, one worker, so one job at a time per device) and the housekeeping
    /// server (queue default), plus the recurring retention job and the worker's registration (<see cref="WorkerRegistration"/>). On shutdown a server takes no new job and gives the running one
    /// <c>Easel:Workers:DrainTimeout</c>; then the job's token is canceled, the runner hands its claim back and Hangfire
    /// puts the job back in its queue, where another worker takes it.
    /// </summary>
    public static IServiceCollection AddEaselJobServers(this IServiceCollection services, string role)
    {
        var identity = $"{Environment.MachineName}-{Environment.ProcessId}";
        // A process that runs jobs serves the bundled model when nothing else is configured; an API in front of workers does not.
        services.PostConfigure<ModelsOptions>(o =>
            o.AddBundledModelWhenNoneConfigured(Path.Combine(AppContext.BaseDirectory, ModelsOptions.BundledModelFolder)));
        services.AddSingleton<IValidateOptions<ModelsOptions>, ModelQueueNameValidation>();
        // Registered before the servers, so the worker's row and models are in the database before it takes a job.
        services.AddHostedService(sp => ActivatorUtilities.CreateInstance<WorkerRegistration>(sp, role));
        services.AddHangfireServer((sp, o) =>
        {
            Drain(sp, o);
            ApplyServerLiveness(sp, o);
            o.ServerName = $"easel-{role}-device-{identity}";
            o.WorkerCount = 1;
            var models = sp.GetRequiredService<ILocalModels>().Models;
            if (models.Count == 0)
                throw new OptionsValidationException(nameof(ModelsOptions), typeof(ModelsOptions),
                    ["This process runs jobs but serves no model: set Easel:Models:<name>:Path (the bundled model is missing from the build output)."]);
            o.Queues = WorkerQueues.Device(models.Select(m => m.Name));
        });
        services.AddHangfireServer((sp, o) =>
        {
            Drain(sp, o);
            ApplyServerLiveness(sp, o);
            o.ServerName = $"easel-{role}-housekeeping-{identity}";
            o.WorkerCount = WorkerQueues.HousekeepingWorkers;
            o.Queues = WorkerQueues.Housekeeping;
        });
        // The host waits for the servers' drain before it gives up on them.
        services.AddOptions<HostOptions>().Configure<IOptions<WorkerOptions>>((host, workers) =>
            host.ShutdownTimeout = workers.Value.DrainTimeout + TimeSpan.FromSeconds(30));
        services.AddHostedService<RecurringJobRegistration>();
        services.AddJobRecovery();
        return services;
    }

    internal static PostgreSqlStorageOptions PostgresStorageOptions() => new()
    {
        SchemaName = PostgresSchema,
        QueuePollInterval = TimeSpan.FromSeconds(1),
        // LISTEN/NOTIFY: an enqueue wakes idle workers of other processes at once; the poll is the fallback.
        EnableLongPolling = true,
        UseSlidingInvisibilityTimeout = true,
        // Only a backstop now: the recovery sweep re-dispatches a job fetched by a dead server within seconds. The sliding
        // keep-alive renews a live worker's fetch every fifth of this (1 min), so a busy worker's job is handed out twice
        // only if its process gets no CPU for 5 min; the default (30 min) kept a lost fetch invisible for half an hour.
        InvisibilityTimeout = TimeSpan.FromMinutes(5),
        PrepareSchemaIfNecessary = true,
    };

    /// <summary>
    /// How the servers of this process show that they live, for the recovery sweep, which takes a job fetched by a server
    /// without a heartbeat for <c>HeartbeatTimeout</c> for lost: a server heartbeat every <c>HeartbeatInterval</c>, as a
    /// running job's row gets (Hangfire's default is 30 s). Hangfire's own watchdog removes a server only after four
    /// times <c>HeartbeatTimeout</c> (checked every <c>HeartbeatTimeout</c>): a removed server that still lives restarts
    /// its processing and cancels its running job, so that must stay rarer than the sweep's decision, which touches only
    /// jobs that are not running yet or whose run has already lost its heartbeat. Every Hangfire server of the process
    /// (webhooks too) uses these, so that no watchdog removes a server of the same process for its slower heartbeat.
    /// </summary>
    public static void ApplyServerLiveness(IServiceProvider services, BackgroundJobServerOptions options)
    {
        var workers = services.GetRequiredService<IOptions<WorkerOptions>>().Value;
        options.HeartbeatInterval = workers.HeartbeatInterval;
        options.ServerTimeout = 4 * workers.HeartbeatTimeout;
        options.ServerCheckInterval = workers.HeartbeatTimeout;
    }

    private static void Drain(IServiceProvider services, BackgroundJobServerOptions options)
    {
        var drain = services.GetRequiredService<IOptions<WorkerOptions>>().Value.DrainTimeout;
        options.StopTimeout = drain;
        options.ShutdownTimeout = drain + TimeSpan.FromSeconds(15);
    }
}
