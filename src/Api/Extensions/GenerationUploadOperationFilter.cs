using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace Easel.Api.Extensions;

/// <summary>
/// POST /v1/generations takes JSON or multipart/form-data. ApiExplorer gives both content types the JSON schema, where
/// <c>image</c> and <c>mask</c> are base64 strings; in the multipart variant they are file parts, so this filter gives
/// that content type its own schema (text fields with the JSON names, <c>image</c>/<c>mask</c> as binary).
/// </summary>
public sealed class GenerationUploadOperationFilter : IOperationFilter
{
    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        if (operation.OperationId != "CreateGeneration" || operation.RequestBody?.Content is not { } content)
            return;
        OpenApiSchema Text(string description) => new() { Type = JsonSchemaType.String, Description = description };
        OpenApiSchema Number(JsonSchemaType type, string description) => new() { Type = type, Description = description };
        OpenApiSchema File(string description) => new() { Type = JsonSchemaType.String, Format = "binary", Description = description };
        content["multipart/form-data"] = new OpenApiMediaType
        {
            Schema = new OpenApiSchema
            {
                Type = JsonSchemaType.Object,
                Required = new HashSet<string> { "prompt" },
                Properties = new Dictionary<string, IOpenApiSchema>
                {
                    ["prompt"] = Text("What to draw."),
                    ["negative_prompt"] = Text("What to avoid."),
                    ["model"] = Text("A configured model; the default when omitted."),
                    ["width"] = Number(JsonSchemaType.Integer, "Text-to-image only; with an image it must be omitted or equal the image's width."),
                    ["height"] = Number(JsonSchemaType.Integer, "Text-to-image only; with an image it must be omitted or equal the image's height."),
                    ["steps"] = Number(JsonSchemaType.Integer, "Denoising steps."),
                    ["guidance_scale"] = Number(JsonSchemaType.Number, "Classifier-free guidance weight."),
                    ["seed"] = Number(JsonSchemaType.Integer, "Seed; chosen and recorded when omitted."),
                    ["scheduler"] = Text("A name, A1111 name or alias from GET /v1/schedulers (case-insensitive)."),
                    ["num_images"] = Number(JsonSchemaType.Integer, "Images in the batch."),
                    ["seed_mode"] = Text("per_image (default): image i uses seed + i and can be regenerated alone with it; batch: one generator for the whole batch (diffusers)."),
                    ["strength"] = Number(JsonSchemaType.Number, "In (0, 1]; default 0.8 for image-to-image, 1 for inpainting."),
                    ["image"] = File("PNG or JPEG: makes the request image-to-image (or inpainting with a mask)."),
                    ["mask"] = File("PNG or JPEG of the image's size; white = repaint."),
                },
            },
        };
    }
}
