using System.Text.Json.Nodes;
using Easel.Core.Generation;
using Easel.Core.Jobs;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace Easel.Api.Extensions;

/// <summary>
/// What the JSON schema of <see cref="GenerationRequest"/> cannot learn from the record's types: the range of
/// <c>priority</c>, the formats of <c>cancel_after</c>, <c>webhook</c> and <c>webhook_events</c>, and a description of the
/// fields the XML docs leave out. The bounds come from the code that enforces them.
/// </summary>
public sealed class GenerationRequestSchemaFilter : ISchemaFilter
{
    public void Apply(IOpenApiSchema schema, SchemaFilterContext context)
    {
        if (context.Type != typeof(GenerationRequest) || schema is not OpenApiSchema { Properties: { } properties } concrete)
            return;
        OpenApiSchema? Field(string name) => properties.TryGetValue(name, out var p) ? p as OpenApiSchema : null;

        concrete.Required ??= new HashSet<string>();
        concrete.Required.Add("prompt");
        Describe(Field("prompt"), "What to draw (A1111 emphasis syntax, e.g. `(red:1.2) circle`).");
        Describe(Field("negative_prompt"), "What to steer away from.");
        Describe(Field("model"), "A model of GET /v1/models; its default when omitted.");
        Describe(Field("width"), "Output width, a multiple of 8; the default size when omitted. With an image: omit it or give the image's width.");
        Describe(Field("height"), "Output height, a multiple of 8; the default size when omitted. With an image: omit it or give the image's height.");
        Describe(Field("steps"), "Denoising steps; the default when omitted.");
        Describe(Field("guidance_scale"), "Classifier-free guidance weight (0 = none).");
        Describe(Field("seed"), $"0 … {GenerationRequestValidator.MaxSeed}; chosen and recorded in the job when omitted.");
        Describe(Field("scheduler"), "A name, A1111 name or alias of GET /v1/schedulers (case-insensitive).");
        Describe(Field("num_images"), "Images in the batch.");

        if (Field("priority") is { } priority)
        {
            priority.Minimum = JobOptionsReader.MinPriority.ToString(System.Globalization.CultureInfo.InvariantCulture);
            priority.Maximum = JobOptionsReader.MaxPriority.ToString(System.Globalization.CultureInfo.InvariantCulture);
            priority.Default = JsonValue.Create(0);
            Describe(priority, $"{JobOptionsReader.MinPriority} … {JobOptionsReader.MaxPriority}, default 0: higher runs earlier among queued jobs (> 0 queue gpu_1_high, < 0 gpu_3_low).");
        }
        if (Field("cancel_after") is { } cancelAfter)
        {
            cancelAfter.Format = "duration-or-date-time";
            cancelAfter.Example = JsonValue.Create("5m");
            cancelAfter.Examples = [JsonValue.Create("90s"), JsonValue.Create("5m"), JsonValue.Create("1h30m"), JsonValue.Create("600"), JsonValue.Create("2026-12-24T18:00:00Z")];
            Describe(cancelAfter, "Deadline: a duration from now (\"90s\", \"5m\", \"1h30m\", \"500ms\", or seconds as a number) or an RFC 3339 "
                + $"date-time; at most {JobOptionsReader.MaxCancelAfter.TotalDays:0} days away. Queued past it → canceled; running past it → stopped between steps.");
        }
        if (Field("webhook") is { } webhook)
        {
            webhook.Format = "uri";
            Describe(webhook, "Absolute http(s) URL that receives the job (Standard Webhooks signature) on webhook_events. Loopback, private and "
                + "link-local targets are refused unless Easel:Webhooks:AllowPrivateTargets is true.");
        }
        if (Field("webhook_events") is { Items: OpenApiSchema items } events)
        {
            items.Enum = [JsonValue.Create("started"), JsonValue.Create("progress"), JsonValue.Create("completed")];
            Describe(events, "Which events are posted to webhook; default [\"completed\"].");
        }
    }

    private static void Describe(OpenApiSchema? field, string description)
    {
        if (field is not null && string.IsNullOrEmpty(field.Description))
            field.Description = description;
    }
}
