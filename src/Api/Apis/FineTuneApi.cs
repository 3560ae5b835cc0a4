using System.Text.Json.Nodes;
using Easel.Api.Auth;
using Easel.Api.Extensions;
using Easel.Core;
using Easel.Core.Artifacts;
using Easel.Core.Data;
using Easel.Core.FineTunes;
using Easel.Core.Generation;
using Easel.Core.Jobs;
using Easel.Core.Models;
using Easel.Core.Options;
using Easel.Core.Storage;
using Easel.Core.Telemetry;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Easel.Api.Apis;

public static class FineTuneApi
{
    public static IEndpointRouteBuilder MapFineTuneEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("v1/fine-tunes").WithTags("Fine-tunes");

        api.MapPost("", CreateFineTune)
            .WithName("CreateFineTune")
            .WithSummary("Train a LoRA or a textual-inversion embedding on a base model")
            .WithDescription("JSON with `method` (`lora` or `textual_inversion`), `base_model`, `images` (base64 PNG/JPEG, one size: the "
                + "training resolution) or `dataset` (a base64 zip of images with kohya-style captions: a `.txt` file of the same name "
                + "beside each image), `captions` (one per image) or `instance_prompt` (the caption of every image without one), "
                + "or the same fields as multipart/form-data, where `images` are file parts (one per image, in order), `dataset` a "
                + "file part, and `captions` repeated fields (one per image) or one JSON array; `token` (textual inversion), `steps`, "
                + "`learning_rate`, `batch_size`, `rank`/`alpha` (LoRA), `seed`, `validation_prompts`/`validate_every`, `name` "
                + "(the artifact's), `webhook`. Answers 202 with a job of kind `fine_tune` on the model's train queue. Its SSE "
                + "stream carries `progress` (step, total, loss) and `validation` events (the validation images, also kept as the "
                + "job's images); cancel stops it between steps; a killed worker's run resumes from its last checkpoint. The "
                + "finished job lists `artifacts: [{id, kind, name}]` (GET /v1/artifacts/{id} has the lineage: base model, "
                + "dataset hash, parameters, job). Refusals name the field: 400 for a missing or bad field (no images, mixed "
                + "sizes, steps above Easel:FineTunes:MaxSteps, rank above Easel:FineTunes:MaxRank), 409 for an artifact name "
                + "already taken, 413 for an image above Easel:Generation:MaxInputImageBytes, 422 for a size or model the base "
                + "model cannot train on.")
            .AddEndpointFilter(AllowLargeBodyAsync)
            .Accepts<FineTuneRequest>("application/json", "multipart/form-data")
            .WithRequestExample(new JsonObject
            {
                ["method"] = "lora",
                ["images"] = new JsonArray(ExampleImage),
                ["instance_prompt"] = "a green sks ring",
                ["steps"] = 10,
            })
            .Produces<JobResponse>(StatusCodes.Status202Accepted)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesValidationProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
        return app;
    }

    /// <summary>The fields a multipart request sends as file parts: <c>images</c> (one part per image) and <c>dataset</c>.</summary>
    internal static readonly string[] UploadFields = ["images", "dataset"];

    /// <summary>ASP.NET's form reader default for the number of form values.</summary>
    private const int FormReaderDefaultValueCount = 1024;

    /// <summary>A 64×64 gray PNG: the example trains on the bundled model as it stands.</summary>
    private static string ExampleImage => ExampleImages.Png((_, _) => new(128, 128, 128));

    public static async Task<Results<Accepted<JobResponse>, ProblemHttpResult>> CreateFineTune(
        HttpRequest http, [AsParameters] FineTuneServices services, CancellationToken cancellationToken)
    {
        await services.Catalog.RefreshAsync(cancellationToken);
        var limits = services.Limits.Value;
        var fineTunes = services.FineTunes.Value;
        var json = services.Json.Value.SerializerOptions;
        RequestBody<FineTuneRequest> body;
        if (StrictRequestBody.IsJson(http))
            body = await StrictRequestBody.ReadJsonAsync<FineTuneRequest>(http, json, BodyLimit(limits, fineTunes), cancellationToken);
        else if (StrictRequestBody.IsMultipart(http))
            body = await StrictRequestBody.ReadMultipartAsync<FineTuneRequest>(http, json, new FormOptions
            {
                MultipartBodyLengthLimit = BodyLimit(limits, fineTunes),
                ValueLengthLimit = (int)Math.Min(int.MaxValue, Math.Max(limits.MaxInputImageBytes, fineTunes.MaxDatasetBytes) * 4 / 3 + 16),
                ValueCountLimit = Math.Max(FormReaderDefaultValueCount, 2 * fineTunes.MaxImages + 64),
            }, UploadFields, Math.Max(limits.MaxInputImageBytes, fineTunes.MaxDatasetBytes), cancellationToken, repeatableFileFields: ["images"]);
        else
            body = new(StrictRequestBody.UnsupportedContentType(http, "application/json or multipart/form-data"));
        if (body.Refusal is { } refusal)
        {
            services.Metrics.RequestRejected(JobKind.FineTune);
            return refusal.ToProblem();
        }

        var imageFiles = body.Files.GetValueOrDefault("images");
        var validation = services.Validator.Validate(body.Value!, imageFiles, body.File("dataset"));
        if (!validation.IsValid)
        {
            services.Metrics.RequestRejected(JobKind.FineTune);
            return TypedResults.Problem(new HttpValidationProblemDetails(validation.Errors)
            {
                Status = validation.Status,
                Title = validation.Status switch
                {
                    StatusCodes.Status413PayloadTooLarge => "A training image is too large.",
                    StatusCodes.Status422UnprocessableEntity => "The base model cannot train on this request.",
                    _ => "The fine-tune request is invalid.",
                },
            });
        }
        var owner = http.HttpContext.GetOwner();
        if (validation.Parameters!.Name is { } name && await services.Artifacts.ResolveAsync(name, owner, null, cancellationToken) is { Name: var taken } && taken == name)
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "The name is taken.",
                detail: $"Another of the caller's artifacts is named '{name}'; choose another name or delete that artifact first.");
        if (await services.QueueCap.RefuseWhenFullAsync(http.HttpContext, cancellationToken) is { } queueFull)
            return queueFull;

        var stored = new List<StoredInputImage>();
        foreach (var image in validation.Images)
            stored.Add(new StoredInputImage((await services.Blobs.PutAsync(image.Png, cancellationToken)).Key, image.Width, image.Height));
        var parameters = validation.Parameters with
        {
            Images = stored,
            DatasetHash = FineTuneRequestValidator.DatasetHash(stored, validation.Parameters.Captions),
        };

        var (job, _) = await JobSubmission.EnqueueAsync(http.HttpContext, services.Db, services.Dispatcher, services.Time, services.Metrics,
            JobKind.FineTune, parameters, validation.JobOptions, idempotent: false, cancellationToken);
        services.Logger.LogInformation("Job {JobId} (fine-tune {Method}, model {Model}, {Images} images, {Steps} steps) queued",
            job.Id, parameters.Method, parameters.Model, stored.Count, parameters.Steps);
        var queue = await JobQueue.DescribeAsync(services.Db, job, services.Time.GetUtcNow(), cancellationToken);
        return TypedResults.Accepted(JobApi.PathOf(job.Id), JobResponse.From(job, queue));
    }

    /// <summary>The images (or the dataset archive) at their byte limits, base64-inflated, plus the other fields.</summary>
    private static long BodyLimit(GenerationOptions limits, FineTuneOptions fineTunes) =>
        Math.Max(limits.MaxInputImageBytes * fineTunes.MaxImages, fineTunes.MaxDatasetBytes) * 4 / 3 + (1 << 20);

    private static ValueTask<object?> AllowLargeBodyAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var services = http.RequestServices;
        var limit = BodyLimit(services.GetRequiredService<IOptions<GenerationOptions>>().Value,
            services.GetRequiredService<IOptions<FineTuneOptions>>().Value);
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
            size.MaxRequestBodySize = Math.Max(size.MaxRequestBodySize ?? 0, limit);
        return next(context);
    }
}

public sealed record FineTuneServices(
    EaselDbContext Db,
    FineTuneRequestValidator Validator,
    IModelCatalog Catalog,
    IJobDispatcher Dispatcher,
    ArtifactResolver Artifacts,
    QueuedJobsCap QueueCap,
    IBlobStore Blobs,
    IOptions<GenerationOptions> Limits,
    IOptions<FineTuneOptions> FineTunes,
    IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> Json,
    EaselMetrics Metrics,
    TimeProvider Time,
    ILogger<FineTuneServices> Logger);
