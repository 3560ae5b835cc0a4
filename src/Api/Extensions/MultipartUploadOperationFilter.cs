using Easel.Core.FineTunes;
using Easel.Core.Generation;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace Easel.Api.Extensions;

/// <summary>
/// POST /v1/generations, /v1/fine-tunes and /v1/preprocess take JSON or multipart/form-data. ApiExplorer gives both content types the
/// JSON schema, where images are base64 strings; in the multipart variant they are file parts, so this filter gives that
/// content type its own schema: every property of the request record's JSON schema (so a field added to the record appears
/// in both) as a form field, with the upload fields as binary (an array of binary parts where several files are taken).
/// </summary>
public sealed class MultipartUploadOperationFilter : IOperationFilter
{
    private sealed record Upload(Type Request, string Required, IReadOnlyCollection<string> FileFields, IReadOnlyCollection<string> RepeatedFileFields, string Description);

    private static readonly Dictionary<string, Upload> Uploads = new(StringComparer.Ordinal)
    {
        ["CreateGeneration"] = new(typeof(GenerationRequest), "prompt", Apis.GenerationApi.UploadFields, [],
            "The fields of the JSON body as form fields (numbers as text in invariant culture; webhook_events repeated or "
            + "comma-separated), image and mask as file parts; controlnets and adapters as JSON array fields, the image of "
            + "entry i as a file part named controlnets[i].image / adapters[i].image. Unknown field names are refused."),
        ["CreateFineTune"] = new(typeof(FineTuneRequest), "method", Apis.FineTuneApi.UploadFields, ["images"],
            "The fields of the JSON body as form fields (numbers as text in invariant culture; lists repeated, one value per "
            + "item, or one JSON array), images as file parts (one per image, in order) or dataset as one zip file part. "
            + "Unknown field names are refused."),
        ["Preprocess"] = new(typeof(Apis.PreprocessRequest), "preprocessor", Apis.PreprocessApi.UploadFields, [],
            "The fields of the JSON body as form fields (numbers as text in invariant culture), image as a file part. "
            + "Unknown field names are refused."),
    };

    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        if (operation.OperationId is not { } id || !Uploads.TryGetValue(id, out var upload) || operation.RequestBody?.Content is not { } content)
            return;
        context.SchemaGenerator.GenerateSchema(upload.Request, context.SchemaRepository);
        var json = context.SchemaRepository.Schemas[upload.Request.Name];
        var properties = new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal);
        foreach (var (name, property) in json.Properties ?? new Dictionary<string, IOpenApiSchema>())
        {
            if (!upload.FileFields.Contains(name))
            {
                properties[name] = property.CreateShallowCopy();
                continue;
            }
            var file = new OpenApiSchema
            {
                Type = JsonSchemaType.String,
                Format = "binary",
                Description = (property.Description is { Length: > 0 } d ? d + " " : "")
                    + "In a multipart request a file part; a text field holding base64 is accepted too.",
            };
            properties[name] = upload.RepeatedFileFields.Contains(name)
                ? new OpenApiSchema { Type = JsonSchemaType.Array, Items = file, Description = file.Description }
                : file;
        }
        foreach (var indexed in upload.FileFields.Where(f => f.Contains("[]", StringComparison.Ordinal)))
        {
            var list = indexed[..indexed.IndexOf('[')];
            properties[indexed.Replace("[]", "[0]", StringComparison.Ordinal)] = new OpenApiSchema
            {
                Type = JsonSchemaType.String,
                Format = "binary",
                Description = $"The image of entry 0 of {list} ({list} sent as a JSON array field); entry i's part is named "
                    + indexed.Replace("[]", "[i]", StringComparison.Ordinal) + ".",
            };
        }
        content["multipart/form-data"] = new OpenApiMediaType
        {
            Schema = new OpenApiSchema
            {
                Type = JsonSchemaType.Object,
                Required = new HashSet<string> { upload.Required },
                Properties = properties,
                Description = upload.Description,
            },
        };
    }
}
