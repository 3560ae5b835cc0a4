using Microsoft.AspNetCore.Mvc;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace Easel.Api.Auth;

/// <summary>
/// Every /v1 operation needs the Bearer scheme (while authentication is on) and may answer 401, 403 (admin operations
/// to ordinary keys; any operation to a non-loopback client while authentication is off) and 429 as problem+json. Added here rather than on each endpoint so that endpoints mapped by other
/// files are documented the same way as they are protected (by the fallback policy and the global rate limiter).
/// </summary>
public sealed class AuthOperationFilter : IOperationFilter
{
    public const string SchemeName = "Bearer";

    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        var path = context.ApiDescription.RelativePath ?? "";
        if (!path.StartsWith("v1/", StringComparison.OrdinalIgnoreCase))
            return;
        operation.Security ??= [];
        operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SchemeName, context.Document)] = [] });

        var problem = context.SchemaGenerator.GenerateSchema(typeof(ProblemDetails), context.SchemaRepository);
        operation.Responses ??= [];
        void Add(int status, string description, bool retryAfter = false)
        {
            var key = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (operation.Responses.ContainsKey(key))
                return;
            operation.Responses[key] = new OpenApiResponse
            {
                Description = description,
                Content = new Dictionary<string, OpenApiMediaType> { ["application/problem+json"] = new() { Schema = problem } },
                Headers = retryAfter
                    ? new Dictionary<string, IOpenApiHeader>
                    {
                        ["Retry-After"] = new OpenApiHeader
                        {
                            Description = "Seconds to wait before retrying.",
                            Schema = new OpenApiSchema { Type = JsonSchemaType.Integer },
                        },
                    }
                    : null,
            };
        }

        Add(StatusCodes.Status401Unauthorized, "No valid API key (Authorization: Bearer <key>) while authentication is on; "
            + "the response carries WWW-Authenticate: Bearer.");
        Add(StatusCodes.Status403Forbidden, path.StartsWith("v1/admin", StringComparison.OrdinalIgnoreCase)
            ? "An ordinary API key: this endpoint needs the admin key; or, while authentication is off, a client that is not on loopback."
            : "While authentication is off, a client that is not on loopback.");
        Add(StatusCodes.Status429TooManyRequests, "The key's requests per minute are used up (or, on submit, its queued-jobs "
            + "cap is reached); Retry-After says when to try again.", retryAfter: true);
    }
}
