using System.Text.Json.Nodes;
using Easel.Api.Auth;
using Easel.Api.Extensions;
using Easel.Core;
using Easel.Core.Artifacts;
using Easel.Core.Data;
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

public static class GenerationApi
{
    public const string MultipartDescription =
        "One endpoint for every mode. Without `image` it is text-to-image; with `image`, image-to-image (`strength` in (0, 1], "
        + "default 0.8; the output has the image's size); with `image` and `mask`, inpainting (white = repaint; same size as "
        + "the image; `strength` default 1). Send the fields as application/json, with `image` and `mask` as base64 PNG or "
        + "JPEG (a data: URI prefix is allowed), or as multipart/form-data with the same field names as form fields and "
        + "`image` / `mask` as file parts (a unit's image as a part named `controlnets[0].image`, `adapters[0].image`, …, "
        + "with `controlnets` / `adapters` as a JSON array field).\n\n"
        + "Answers 202 with the job and its Location; poll GET /v1/jobs/{id} until the status is succeeded, failed or "
        + "canceled. Refusals are application/problem+json whose `errors` names each bad field, and nothing is stored or "
        + "enqueued: 400 for an unknown field (named, with the closest known name: a misspelling is never silently ignored), "
        + "a field given twice, a value of the wrong type or a malformed body, and for a bad field (not an image, a format "
        + "other than PNG/JPEG, more pixels than Easel:Generation:MaxPixels — checked from the header before decoding —, sides not multiples of the model's VAE "
        + "scale factor, a mask of another size, strength outside (0, 1]); 413 when an image or mask is larger than "
        + "Easel:Generation:MaxInputImageBytes; 415 for another content type; 422 for text-to-image on an inpainting model. "
        + "Inpainting on an ordinary model is accepted (latents are blended under the mask). The decoded input is stored "
        + "as a PNG blob named by its SHA-256 and the job's `request` refers to it (`image.blob`), never inline.";

    /// <summary>The fields a multipart request may send as file parts (the base64 strings of the JSON variant).</summary>
    public static readonly IReadOnlyList<string> UploadFields = ["image", "mask", "controlnets[].image", "adapters[].image"];

    public static IEndpointRouteBuilder MapGenerationEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("v1/generations").WithTags("Generations");

        api.MapPost("", CreateGeneration)
            .WithName("CreateGeneration")
            .WithSummary("Submit a generation: text-to-image, image-to-image or inpainting")
            .WithDescription(MultipartDescription + "\n\n" + PreferWait.Description + " With a wait, a job that finished in time "
                + "answers 200 with the final job (and Location); one still unfinished answers 202 as without it (Replicate answers "
                + "201 for both; 200 vs 202 tells the client whether to poll).\n\n" + IdempotencyKeys.Description)
            .AddEndpointFilter(AllowLargeBodyAsync)
            .WithPreferWait()
            .WithIdempotencyKey()
            .Accepts<GenerationRequest>("application/json", "multipart/form-data")
            // No size or steps: the defaults apply, which the bundled model draws in seconds.
            .WithRequestExample(new JsonObject { ["prompt"] = "a red circle" })
            .Produces<JobResponse>(StatusCodes.Status202Accepted)
            .Produces<JobResponse>(StatusCodes.Status200OK)
            .ProducesValidationProblem()
            .ProducesValidationProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);

        return app;
    }

    public static async Task<Results<Accepted<JobResponse>, ProblemHttpResult>> CreateGeneration(
        HttpRequest http,
        [AsParameters] GenerationServices services,
        CancellationToken cancellationToken)
    {
        await services.Catalog.RefreshAsync(cancellationToken);
        var body = await ReadBodyAsync<GenerationRequest>(http, services.Json.Value.SerializerOptions, services.Limits.Value, UploadFields, cancellationToken);
        if (body.Refusal is { } refusal)
        {
            services.Metrics.RequestRejected(JobKind.Generation);
            return refusal.ToProblem();
        }

        var request = body.Value!;
        var controlImages = new List<byte[]?>();
        foreach (var (unit, i) in (request.Controlnets ?? []).Select((u, i) => (u, i)))
            controlImages.Add(body.File($"controlnets[{i}].image") ?? await ReadStoredInputAsync(unit?.Image, http.HttpContext, services, cancellationToken));
        var adapterImages = new List<byte[]?>();
        foreach (var (adapter, i) in (request.Adapters ?? []).Select((a, i) => (a, i)))
            adapterImages.Add(body.File($"adapters[{i}].image") ?? await ReadStoredInputAsync(adapter?.Image, http.HttpContext, services, cancellationToken));
        var validation = services.Validator.Validate(request,
            body.File("image") ?? await ReadStoredInputAsync(request.Image, http.HttpContext, services, cancellationToken),
            body.File("mask") ?? await ReadStoredInputAsync(request.Mask, http.HttpContext, services, cancellationToken),
            controlImages, adapterImages);
        var preprocessingErrors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var preprocessing = ControlUnitPreprocessing("controlnets", request.Controlnets?.Select(u => u is null ? null
            : new PreprocessorChoice(u.Preprocessor, u.ResizeMode, u.LowThreshold, u.HighThreshold, u.BlurSigma, u.PreprocessorSeed)), preprocessingErrors);
        var adapterPreprocessing = ControlUnitPreprocessing("adapters", request.Adapters?.Select(a => a is null ? null
            : new PreprocessorChoice(a.Preprocessor, a.ResizeMode, a.LowThreshold, a.HighThreshold, a.BlurSigma, a.PreprocessorSeed)), preprocessingErrors);
        if (!validation.IsValid || preprocessingErrors.Count > 0)
        {
            services.Metrics.RequestRejected(JobKind.Generation);
            var errors = new Dictionary<string, string[]>(validation.Errors, StringComparer.Ordinal);
            foreach (var (field, messages) in preprocessingErrors)
                errors[field] = [.. errors.GetValueOrDefault(field, []), .. messages];
            return Invalid(validation.IsValid ? StatusCodes.Status400BadRequest : validation.Status, errors);
        }

        var (parameters, unresolved) = await GenerationArtifacts.ResolveAsync(services.Artifacts, validation.Parameters!,
            validation.LoraFields ?? [], http.HttpContext.GetOwner(), cancellationToken, services.Catalog);
        if (parameters is null)
        {
            services.Metrics.RequestRejected(JobKind.Generation);
            return Invalid(StatusCodes.Status422UnprocessableEntity, unresolved);
        }

        if (await services.QueueCap.RefuseWhenFullAsync(http.HttpContext, cancellationToken) is { } queueFull)
            return queueFull;

        // Inputs go to the content-addressed blob store first (idempotent); the job row refers to them by key.
        if (validation.Image is { } image)
            parameters = parameters with { Image = new StoredInputImage((await services.Blobs.PutAsync(image.Png, cancellationToken)).Key, image.Width, image.Height) };
        if (validation.Mask is { } mask)
            parameters = parameters with { Mask = new StoredInputImage((await services.Blobs.PutAsync(mask.Png, cancellationToken)).Key, mask.Width, mask.Height) };
        if (parameters.Controlnets is { } units)
        {
            var stored = new List<ControlNetUse>(units.Count);
            for (var i = 0; i < units.Count; i++)
            {
                var controlImage = validation.ControlImages![i];
                var key = (await services.Blobs.PutAsync(controlImage.Png, cancellationToken)).Key;
                stored.Add(units[i] with
                {
                    Image = new StoredInputImage(key, controlImage.Width, controlImage.Height),
                    Preprocessor = preprocessing[i].Preprocessor,
                    ResizeMode = preprocessing[i].ResizeMode,
                });
            }
            parameters = parameters with { Controlnets = stored };
        }
        if (parameters.Adapters is { } adapters)
        {
            var stored = new List<AdapterUse>(adapters.Count);
            for (var i = 0; i < adapters.Count; i++)
            {
                var adapterImage = validation.AdapterImages![i];
                var key = (await services.Blobs.PutAsync(adapterImage.Png, cancellationToken)).Key;
                stored.Add(adapters[i] with
                {
                    Image = new StoredInputImage(key, adapterImage.Width, adapterImage.Height),
                    Preprocessor = adapterPreprocessing[i].Preprocessor,
                    ResizeMode = adapterPreprocessing[i].ResizeMode,
                });
            }
            parameters = parameters with { Adapters = stored };
        }

        var (job, queued) = await JobSubmission.EnqueueAsync(http.HttpContext, services.Db, services.Dispatcher, services.Time, services.Metrics,
            JobKind.Generation, parameters, validation.JobOptions, idempotent: true, cancellationToken);
        services.Logger.LogInformation("Job {JobId} ({Kind} {Mode}, model {Model}) queued as Hangfire job {HangfireJobId}",
            job.Id, job.Kind, parameters.Mode, parameters.Model, queued);
        // The answer shows where the job stands, as a GET right after it would.
        var queue = await JobQueue.DescribeAsync(services.Db, job, services.Time.GetUtcNow(), cancellationToken);
        return TypedResults.Accepted(JobApi.PathOf(job.Id), JobResponse.From(job, queue));
    }

    /// <summary>A control unit's preprocessor fields as the request gives them.</summary>
    private sealed record PreprocessorChoice(string? Preprocessor, string? ResizeMode, double? LowThreshold, double? HighThreshold,
        double? BlurSigma, long? Seed);

    /// <summary>
    /// Each unit's preprocessor and resize mode by their canonical names; what is wrong with them goes to
    /// <paramref name="errors"/> (the inference core's preprocessors are named here, where the API can see them, rather than
    /// in Core's validator).
    /// </summary>
    private static List<(string Preprocessor, string ResizeMode)> ControlUnitPreprocessing(string name, IEnumerable<PreprocessorChoice?>? units,
        Dictionary<string, string[]> errors)
    {
        var chosen = new List<(string, string)>();
        void Add(string field, string message) => errors[field] = [.. errors.GetValueOrDefault(field, []), message];
        foreach (var (unit, i) in (units ?? []).Select((u, i) => (u, i)))
        {
            if (unit is null)
                continue;
            var (preprocessor, _, mode, _) = PreprocessorFields.Read($"{name}[{i}].", unit.Preprocessor, required: false, unit.ResizeMode,
                unit.LowThreshold, unit.HighThreshold, unit.BlurSigma, unit.Seed, "preprocessor_seed", Add);
            chosen.Add((preprocessor?.Name ?? "none", mode.ToString().ToLowerInvariant()));
        }
        return chosen;
    }

    /// <summary>
    /// The bytes of a stored input a JSON request refers to (the <c>{"blob", …}</c> form a job's request shows), when it is
    /// an input of the caller's own jobs and still stored; otherwise null, and the validator refuses the field.
    /// </summary>
    private static Task<byte[]?> ReadStoredInputAsync(InputImageField? field, HttpContext http, GenerationServices services,
        CancellationToken cancellationToken) => ReadStoredInputAsync(field, http, services.Db, services.Blobs, cancellationToken);

    internal static async Task<byte[]?> ReadStoredInputAsync(InputImageField? field, HttpContext http, EaselDbContext db, IBlobStore blobs,
        CancellationToken cancellationToken)
    {
        if (field?.Stored is not { } stored || !await StoredInputs.IsInputOfAsync(db, stored.Blob, http.GetOwner(), cancellationToken))
            return null;
        await using var stream = blobs.OpenRead(stored.Blob);
        if (stream is null)
            return null;
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer, cancellationToken);
        return buffer.ToArray();
    }

    /// <summary>
    /// A JSON or multipart body of an endpoint that takes input images (<paramref name="uploadFields"/> as file parts), read
    /// strictly within the image limits; another content type is a 415 refusal.
    /// </summary>
    internal static async Task<RequestBody<T>> ReadBodyAsync<T>(HttpRequest http, System.Text.Json.JsonSerializerOptions json, GenerationOptions limits,
        IReadOnlyList<string> uploadFields, CancellationToken cancellationToken) where T : class
    {
        var bodyLimit = BodyLimit(limits);
        if (StrictRequestBody.IsJson(http))
            return await StrictRequestBody.ReadJsonAsync<T>(http, json, bodyLimit, cancellationToken);
        if (StrictRequestBody.IsMultipart(http))
            return await StrictRequestBody.ReadMultipartAsync<T>(http, json, new FormOptions
            {
                MultipartBodyLengthLimit = bodyLimit,
                ValueLengthLimit = (int)Math.Min(int.MaxValue, limits.MaxInputImageBytes * 4 / 3 + 16),
            }, uploadFields, limits.MaxInputImageBytes, cancellationToken);
        return new(StrictRequestBody.UnsupportedContentType(http, "application/json or multipart/form-data"));
    }

    /// <summary>Room for an image and a mask at the byte limit, base64-inflated, plus the other fields.</summary>
    internal static long BodyLimit(GenerationOptions limits) => limits.MaxInputImageBytes * 2 * 4 / 3 + (1 << 20);

    /// <summary>Raises the request body limit before anything reads the body (the idempotency fingerprint reads it first).</summary>
    internal static ValueTask<object?> AllowLargeBodyAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var limit = BodyLimit(http.RequestServices.GetRequiredService<IOptions<GenerationOptions>>().Value);
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
            size.MaxRequestBodySize = Math.Max(size.MaxRequestBodySize ?? 0, limit);
        return next(context);
    }

    private static ProblemHttpResult Invalid(int status, IDictionary<string, string[]> errors) =>
        TypedResults.Problem(new HttpValidationProblemDetails(errors)
        {
            Status = status,
            Title = status switch
            {
                StatusCodes.Status413PayloadTooLarge => "An input image is too large.",
                StatusCodes.Status422UnprocessableEntity => "The model cannot run this request.",
                _ => "The generation request is invalid.",
            },
        });
}

public sealed record GenerationServices(
    EaselDbContext Db,
    GenerationRequestValidator Validator,
    IModelCatalog Catalog,
    IJobDispatcher Dispatcher,
    ArtifactResolver Artifacts,
    QueuedJobsCap QueueCap,
    IBlobStore Blobs,
    IOptions<GenerationOptions> Limits,
    IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> Json,
    EaselMetrics Metrics,
    TimeProvider Time,
    ILogger<GenerationServices> Logger);
