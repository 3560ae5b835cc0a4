using System.Text.Json;
using System.Text.Json.Serialization;
using Easel.Api.Apis;
using Easel.Api.Auth;
using Easel.Core;
using Easel.Core.Options;
using Easel.Core.Telemetry;
using Easel.Workers;
using Easel.Workers.Generation;
using Hangfire;
using Hangfire.InMemory;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Easel.Api.Extensions;

public static class ApiExtensions
{
    /// <summary>Everything the API process needs: domain services, JSON, ProblemDetails, OpenAPI, metrics, health, Hangfire.</summary>
    public static WebApplicationBuilder AddEaselApi(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddEaselCore();
        services.AddEaselWorkers();

        services.ConfigureHttpJsonOptions(o => ConfigureJson(o.SerializerOptions));
        services.Configure<Microsoft.AspNetCore.Mvc.JsonOptions>(o => ConfigureJson(o.JsonSerializerOptions));
        // Malformed bodies throw, so that RequestBodyExceptionHandler can name the field in a validation problem.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);

        // The framework adds the trace id to every problem; with the snake_case policy it is written "trace_id".
        services.AddProblemDetails();
        services.AddExceptionHandler<RequestBodyExceptionHandler>();

        services.AddEndpointsApiExplorer();
        services.AddSwaggerGen(o =>
        {
            o.SwaggerDoc("v1", new OpenApiInfo
            {
                Title = "Easel",
                Version = "v1",
                Description = "Image generation jobs: submit, poll, download. Errors are RFC 9457 application/problem+json.",
            });
            o.OperationFilter<GenerationUploadOperationFilter>();
            o.OperationFilter<JobHeadersOperationFilter>();
        });

        services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: ["ready"]);

        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("easel-api"))
            .WithMetrics(m => m
                .AddMeter(EaselMetrics.MeterName)
                .AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter());

        AddHangfire(builder);
        builder.AddEaselAuth();
        return builder;
    }

    public static WebApplication UseEaselApi(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseEaselAuth();
        app.UseSwagger();
        app.UseSwaggerUI(o => o.DocumentTitle = "Easel API");
        app.UseHangfireDashboard("/hangfire", new DashboardOptions
        {
            Authorization = [app.Services.DashboardFilter()],
            DisplayStorageConnectionString = false,
        });
        return app;
    }

    public static WebApplication MapEaselApi(this WebApplication app)
    {
        app.MapGenerationEndpoints();
        app.MapJobEndpoints();
        app.MapImageEndpoints();
        app.MapModelEndpoints();
        app.MapAdminEndpoints();
        app.MapHealthChecks("/healthz", new() { Predicate = _ => false }).WithTags("Health");
        app.MapHealthChecks("/readyz", new() { Predicate = check => check.Tags.Contains("ready") }).WithTags("Health");
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }

    private static void ConfigureJson(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
    }

    /// <summary>
    /// Hangfire storage is a per-host <see cref="JobStorage"/> service (not the process-wide JobStorage.Current), so
    /// that several hosts in one process (tests) keep their own queues. In-memory in the embedded mode (SQLite);
    /// Hangfire.PostgreSql, schema "hangfire", 1 s polling and a sliding invisibility timeout with PostgreSQL.
    /// </summary>
    private static void AddHangfire(WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddSingleton<JobStorage>(sp =>
        {
            sp.GetRequiredService<IGlobalConfiguration>(); // serializer settings and log provider first, as Hangfire's own registrations do
            var database = sp.GetRequiredService<IOptions<DatabaseOptions>>().Value;
            if (database.Provider != DatabaseProvider.Postgres)
                return new InMemoryStorage(new InMemoryStorageOptions());
            var options = new PostgreSqlStorageOptions
            {
                SchemaName = "hangfire",
                QueuePollInterval = TimeSpan.FromSeconds(1),
                UseSlidingInvisibilityTimeout = true,
                PrepareSchemaIfNecessary = true,
            };
            var connectionString = database.ResolveConnectionString(sp.GetRequiredService<IOptions<EaselOptions>>().Value);
            return new PostgreSqlStorage(new NpgsqlConnectionFactory(connectionString, options), options);
        });
        services.AddHangfire(config => config
            .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
            .UseSimpleAssemblyNameTypeSerializer()
            .UseRecommendedSerializerSettings());

        if (builder.Configuration.GetValue($"{WorkerOptions.Section}:{nameof(WorkerOptions.InProcess)}", true))
        {
            services.AddHangfireServer(o =>
            {
                o.WorkerCount = 1;
                o.Queues = [GenerationJobRunner.Queue];
                o.ServerName = $"easel-api-{Environment.MachineName}-{Environment.ProcessId}";
            });
        }
    }
}
