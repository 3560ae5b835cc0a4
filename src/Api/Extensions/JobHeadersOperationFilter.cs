using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace Easel.Api.Extensions;

/// <summary>
/// Documents the request headers that endpoint filters read (they are not handler parameters, so ApiExplorer does not
/// see them): <c>Idempotency-Key</c>, <c>Prefer: wait=N</c> and the event stream's <c>Last-Event-ID</c>, and the response
/// headers that answer them.
/// </summary>
public sealed class JobHeadersOperationFilter : IOperationFilter
{
    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        var metadata = context.ApiDescription.ActionDescriptor.EndpointMetadata;
        if (metadata.OfType<IdempotencyKeys.Metadata>().Any())
        {
            AddHeader(operation, IdempotencyKeys.HeaderName, $"At most 255 characters. {IdempotencyKeys.Description}",
                new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = 255 });
            AddResponseHeader(operation, "200", IdempotencyKeys.ReplayedHeaderName, "\"true\" when the answer replays an earlier request with the same key.");
        }
        if (operation.OperationId == "StreamJobEvents")
        {
            AddHeader(operation, "Last-Event-ID", "Resume: only events with a greater `id:` are sent (what an EventSource sends "
                + "on reconnect). Wins over the `last_event_id` query parameter.", new OpenApiSchema { Type = JsonSchemaType.String, Pattern = "^[0-9]+$" });
            operation.Parameters!.Add(new OpenApiParameter
            {
                Name = "last_event_id",
                In = ParameterLocation.Query,
                Description = "The same as Last-Event-ID, for clients that cannot set headers.",
                Schema = new OpenApiSchema { Type = JsonSchemaType.String, Pattern = "^[0-9]+$" },
            });
        }
        if (metadata.OfType<PreferWait.Metadata>().Any())
        {
            AddHeader(operation, "Prefer", $"`wait=N`, N in seconds (at most {PreferWait.MaxSeconds}). {PreferWait.Description}",
                new OpenApiSchema { Type = JsonSchemaType.String, Example = System.Text.Json.Nodes.JsonValue.Create("wait=30") });
            foreach (var status in new[] { "200", "202" })
                AddResponseHeader(operation, status, "Preference-Applied", "`wait=N` when the wait preference was honoured (N after the cap).");
        }
    }

    private static void AddHeader(OpenApiOperation operation, string name, string description, OpenApiSchema schema)
    {
        operation.Parameters ??= [];
        operation.Parameters.Add(new OpenApiParameter
        {
            Name = name,
            In = ParameterLocation.Header,
            Required = false,
            Description = description,
            Schema = schema,
        });
    }

    private static void AddResponseHeader(OpenApiOperation operation, string status, string name, string description)
    {
        if (operation.Responses?.TryGetValue(status, out var response) != true || response is not OpenApiResponse concrete)
            return;
        concrete.Headers ??= new Dictionary<string, IOpenApiHeader>();
        concrete.Headers[name] = new OpenApiHeader { Description = description, Schema = new OpenApiSchema { Type = JsonSchemaType.String } };
    }
}
