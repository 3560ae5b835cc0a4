using Microsoft.Extensions.DependencyInjection.Extensions;
using System.Text.Json;
using System.Text.Json.Serialization;
using Easel.Api.Apis;
using Easel.Api.Auth;
using Easel.Core;
using Easel.Core.Options;
using Easel.Workers;
using Easel.Workers.Hosting;
using Easel.Workers.Webhooks;
using Hangfire;
using Microsoft.OpenApi;

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
        services.AddProblemDetails(o => o.CustomizeProblemDetails = StrictRequestBody.AddErrorsToBareRefusal);
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
            o.SchemaFilter<GenerationRequestSchemaFilter>();
            o.OperationFilter<MultipartUploadOperationFilter>();
            o.MapType<Core.Generation.InputImageField>(() => new OpenApiSchema
            {
                Description = "Base64 PNG or JPEG (a data: URI prefix is allowed), or a stored input {blob, width, height} as a job's request shows it.",
                OneOf =
                [
                    new OpenApiSchema { Type = JsonSchemaType.String },
                    new OpenApiSchema
                    {
                        Type = JsonSchemaType.Object,
                        Required = new HashSet<string> { "blob", "width", "height" },
                        Properties = new Dictionary<string, IOpenApiSchema>
                        {
                            ["blob"] = new OpenApiSchema { Type = JsonSchemaType.String },
                            ["width"] = new OpenApiSchema { Type = JsonSchemaType.Integer },
                            ["height"] = new OpenApiSchema { Type = JsonSchemaType.Integer },
                        },
                    },
                ],
            });
            o.OperationFilter<RequestBodyOperationFilter>();
            o.OperationFilter<JobHeadersOperationFilter>();
            // The <param> docs of the request records (image, mask, strength, webhook, …).
            var coreDocs = Path.Combine(AppContext.BaseDirectory, "Easel.Core.xml");
            if (File.Exists(coreDocs))
                o.IncludeXmlComments(coreDocs);
            // The <param> docs of the API's own request records (POST /v1/preprocess).
            var apiDocs = Path.Combine(AppContext.BaseDirectory, "Easel.Api.xml");
            if (File.Exists(apiDocs))
                o.IncludeXmlComments(apiDocs);
        });

        services.AddSingleton<Easel.Core.Artifacts.IArtifactInspector, Easel.Workers.Artifacts.SafeTensorsArtifactInspector>();
        services.TryAddSingleton<Easel.Workers.Artifacts.RequestArtifacts>();
        services.AddSingleton<Easel.Core.Artifacts.IArtifactConverter, Easel.Workers.Artifacts.LoraArtifactConverter>();
        services.AddEaselHealthChecks();
        services.AddEaselTelemetry("easel-api");

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
        app.MapEditEndpoints();
        app.MapFineTuneEndpoints();
        app.MapPreprocessEndpoints();
        app.MapJobEndpoints();
        app.MapJobEventEndpoints();
        app.MapImageEndpoints();
        app.MapArtifactEndpoints();
        app.MapModelEndpoints();
        app.MapWebhookEndpoints();
        app.MapAdminEndpoints();
        app.MapEaselProbes();
        return app;
    }

    private static void ConfigureJson(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
    }

    /// <summary>
    /// The Hangfire client and storage (see AddEaselHangfire); in the embedded mode (<c>Easel:Workers:InProcess</c>, the
    /// default) also the job servers and webhook delivery, so that this one process runs the jobs it accepts.
    /// </summary>
    private static void AddHangfire(WebApplicationBuilder builder)
    {
        builder.Services.AddEaselHangfire();
        if (builder.Configuration.GetValue($"{WorkerOptions.Section}:{nameof(WorkerOptions.InProcess)}", true))
        {
            builder.Services.AddEaselJobServers("api");
            builder.Services.AddEaselWebhookDelivery();
        }
    }
}
