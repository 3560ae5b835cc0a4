using Easel.Core.Generation;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace Easel.Api.Extensions;

/// <summary>
/// POST /v1/generations takes JSON or multipart/form-data. ApiExplorer gives both content types the JSON schema, where
/// <c>image</c> and <c>mask</c> are base64 strings; in the multipart variant they are file parts, so this filter gives
/// that content type its own schema: every property of the JSON schema of <see cref="GenerationRequest"/> (so a field
/// added to the record appears in both) as a form field, with <c>image</c>/<c>mask</c> as binary.
/// </summary>
public sealed class GenerationUploadOperationFilter : IOperationFilter
{
    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        if (operation.OperationId != "CreateGeneration" || operation.RequestBody?.Content is not { } content)
            return;
        context.SchemaGenerator.GenerateSchema(typeof(GenerationRequest), context.SchemaRepository);
        var json = context.SchemaRepository.Schemas[nameof(GenerationRequest)];
        var properties = new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal);
        foreach (var (name, property) in json.Properties ?? new Dictionary<string, IOpenApiSchema>())
        {
            properties[name] = Apis.GenerationApi.UploadFields.Contains(name)
                ? new OpenApiSchema
                {
                    Type = JsonSchemaType.String,
                    Format = "binary",
                    Description = (property.Description is { Length: > 0 } d ? d + " " : "")
                        + "In a multipart request a file part (PNG or JPEG); a text field holding base64 is accepted too.",
                }
                : property.CreateShallowCopy();
        }
        content["multipart/form-data"] = new OpenApiMediaType
        {
            Schema = new OpenApiSchema
            {
                Type = JsonSchemaType.Object,
                Required = new HashSet<string> { "prompt" },
                Properties = properties,
                Description = "The fields of the JSON body as form fields (numbers as text in invariant culture; "
                    + "webhook_events repeated or comma-separated), image and mask as file parts. Unknown field names are refused.",
            },
        };
    }
}
