using System.Text.Json.Nodes;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace Easel.Api.Extensions;

/// <summary>The example request body of an endpoint, shown (and sent by "Try it out") in Swagger UI.</summary>
public sealed record RequestExample(JsonObject Body);

public static class RequestExampleExtensions
{
    /// <summary>Documents <paramref name="body"/> as the example of every content type the endpoint accepts.</summary>
    public static RouteHandlerBuilder WithRequestExample(this RouteHandlerBuilder builder, JsonObject body) =>
        builder.WithMetadata(new RequestExample(body));
}

/// <summary>
/// For every operation that takes a body: its <see cref="RequestExample"/> as the JSON example and as the examples of
/// the multipart form's fields, and the refusals every strictly read body may get (<see cref="StrictRequestBody"/>):
/// 400 (unknown, repeated or mistyped fields, a malformed body), 413 (too large), 415 (another content type).
/// </summary>
public sealed class RequestBodyOperationFilter : IOperationFilter
{
    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        if (operation.RequestBody?.Content is not { } content)
            return;
        if (context.ApiDescription.ActionDescriptor.EndpointMetadata.OfType<RequestExample>().LastOrDefault() is { } example)
        {
            foreach (var (type, media) in content)
            {
                if (type.EndsWith("json", StringComparison.OrdinalIgnoreCase))
                    media.Example = example.Body.DeepClone();
                else if (media.Schema is OpenApiSchema { Properties: { } properties })
                    foreach (var (name, value) in example.Body)
                        if (properties.TryGetValue(name, out var property) && property is OpenApiSchema field)
                            field.Example = value?.DeepClone();
            }
        }

        var problem = context.SchemaGenerator.GenerateSchema(typeof(HttpValidationProblemDetails), context.SchemaRepository);
        operation.Responses ??= [];
        void Add(int status, string description)
        {
            var key = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
            // A response another filter described keeps its words; the framework's bare reason phrase is replaced.
            if (operation.Responses.TryGetValue(key, out var existing) && !string.IsNullOrEmpty(existing.Description)
                && existing.Description != ReasonPhrase(status))
                return;
            operation.Responses[key] = new OpenApiResponse
            {
                Description = description,
                Content = new Dictionary<string, OpenApiMediaType> { ["application/problem+json"] = new() { Schema = problem } },
            };
        }
        Add(StatusCodes.Status400BadRequest, "The body or a field is invalid: `errors` names each field (a misspelt one with the "
            + "closest known name), `body` when the body as a whole is unreadable (empty, not UTF-8, not JSON, not an object, "
            + "truncated), `Content-Type` when a multipart boundary is missing. Unknown fields are refused, not ignored.");
        Add(StatusCodes.Status413PayloadTooLarge, "The body, or an image in it, is larger than accepted; `errors` names it.");
        Add(StatusCodes.Status415UnsupportedMediaType, "Another content type than the request body lists; `errors.Content-Type` says which are accepted.");
    }

    private static string ReasonPhrase(int status) => Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status);
}
