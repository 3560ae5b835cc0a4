using Easel.Core.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Easel.Workers.Hosting;

/// <summary>Metrics, traces and health, the same in the API and the worker process.</summary>
public static class ObservabilityExtensions
{
    public const string ReadyTag = "ready";

    /// <summary>
    /// OpenTelemetry: the Easel meter (plus ASP.NET Core and runtime) for the Prometheus endpoint, the queue gauges,
    /// the Easel activity source and incoming requests (health and metrics scrapes left out) for traces. With the standard
    /// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> set, traces, metrics and logs also go to that OTLP collector.
    /// </summary>
    public static IServiceCollection AddEaselTelemetry(this IServiceCollection services, string serviceName)
    {
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(serviceName))
            .WithMetrics(m => m
                .AddMeter(EaselMetrics.MeterName)
                .AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter())
            .WithTracing(t => t
                .AddSource(EaselTracing.SourceName)
                .AddAspNetCoreInstrumentation(o => o.Filter = http => !IsProbe(http.Request.Path)));
        if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT")))
            telemetry.UseOtlpExporter();
        services.AddHostedService<JobGauges>();
        return services;
    }

    /// <summary>/readyz checks: the job database and the queue storage.</summary>
    public static IServiceCollection AddEaselHealthChecks(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<DatabaseHealthCheck>("database", tags: [ReadyTag])
            .AddCheck<QueueStorageHealthCheck>("queue_storage", tags: [ReadyTag]);
        return services;
    }

    /// <summary>/healthz (the process answers), /readyz (database and queue storage answer) and /metrics (Prometheus).</summary>
    public static IEndpointRouteBuilder MapEaselProbes(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false }).WithTags("Health");
        app.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = check => check.Tags.Contains(ReadyTag) }).WithTags("Health");
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }

    private static bool IsProbe(PathString path) =>
        path.StartsWithSegments("/healthz") || path.StartsWithSegments("/readyz") || path.StartsWithSegments("/metrics");
}
