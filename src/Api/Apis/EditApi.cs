using System.Text.Json.Nodes;
using Easel.Api.Auth;
using Easel.Api.Extensions;
using Easel.Core;
using Easel.Core.Artifacts;
using Easel.Core.Data;
using Easel.Core.Editing;
using Easel.Core.Generation;
using Easel.Core.Jobs;
using Easel.Core.Models;
using Easel.Core.Options;
using Easel.Core.Storage;
using Easel.Core.Telemetry;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Easel.Api.Apis;

public static class EditApi
{
    public const string Description =
        "Edits an image rather than making one. `method: \"blended\"` is Blended Latent Diffusion (Avrahami, Fried, Lischinski 2023): "
        + "`image`, `mask` (white = edit, black = keep; the image's size), `prompt` (what the masked region should show), "
        + "`negative_prompt`, `steps`, `guidance_scale`, `strength` (where in the schedule the edit starts; default 1 = from pure "
        + "noise inside the mask), `seed`, `scheduler`, `num_images`, `seed_mode`, `loras`, `embeddings`, and `background`: "
        + "`pixel_blend` (default: the input's pixels are put back outside the mask feathered by one latent cell, so they are the "
        + "input's bytes there), `decoder_optimization` (the paper's per-image fine-tune of the decoder so that the decoded "
        + "background matches the input; `decoder_steps`, default 100) or `none` (the decoded latents as they are). Any model "
        + "with a 4-channel UNet runs it; no inpainting model is needed. Send JSON with base64 images or multipart/form-data "
        + "with `image` and `mask` as file parts. Answers 202 with a job of kind `edit` on the model's generation queue (events, "
        + "cancel, webhooks, idempotency and images as for generations); its images are the edits. Refusals name the field and "
        + "store nothing: 400 for a missing or bad field (an unknown `method`, a field of another method, no mask, a mask of another "
        + "size), 413 for an image above Easel:Generation:MaxInputImageBytes, 415 for another content type, 422 for an inpainting "
        + "model, and for SDXL with a real-image source or imagic.\n\n"
        + "`method: \"prompt_to_prompt\"` is Prompt-to-Prompt (Hertz et al. 2022): `source` (`{prompt, seed}` for a generated source, "
        + "`{prompt, image}` for a real image and the prompt that describes it; in multipart the real image is the `image` file part "
        + "and `source` a JSON field), `prompt` (the edited prompt: same number of words for a word swap, added words for a "
        + "refinement), `cross_replace_steps` (fraction of the steps with the source's cross-attention maps, default 0.8, or "
        + "`{\"default\": 0.8, \"word\": 0.4}` per word), `self_replace_steps` (default 0.4), `reweight` (`{\"word\": factor}`), "
        + "`local_blend` (words whose attention region is all the edit may change), `width`/`height` (generated source), `steps`, "
        + "`guidance_scale`, `scheduler` (ddim for a real image), `inversion` (`null_text`, default, or `ddim`) and "
        + "`null_text_learning_rate` (default 1e-2, the paper's). The job's images are [source, edit]: the source as generated "
        + "or reconstructed, then the edit.\n\n"
        + "`method: \"imagic\"` is Imagic (Kawar et al. 2023): `image`, `prompt` (the target text), `eta` (a number or a list, default "
        + "0.7), `embedding_steps` (stage A, default 200), `finetune_steps` (stage B, a LoRA on the UNet's attention, default 300), "
        + "`embedding_learning_rate` (1e-2), `finetune_learning_rate` (1e-4), `seed`, `steps`, `guidance_scale`, `scheduler`. The job "
        + "trains on the model's train queue and lists an `edit_session` artifact; with its success a render job of the `eta` values is "
        + "queued (GET /v1/jobs?kind=edit lists it). POST /v1/edits/{session}/render renders any other η or "
        + "seed from the session without training.";

    public static readonly IReadOnlyList<string> UploadFields = ["image", "mask"];

    public static IEndpointRouteBuilder MapEditEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("v1/edits").WithTags("Edits");

        api.MapPost("", CreateEdit)
            .WithName("CreateEdit")
            .WithSummary("Submit an edit of an image: Blended Latent Diffusion, Prompt-to-Prompt or Imagic")
            .WithDescription(Description + "\n\n" + IdempotencyKeys.Description)
            .AddEndpointFilter(GenerationApi.AllowLargeBodyAsync)
            .WithIdempotencyKey()
            .Accepts<EditRequest>("application/json", "multipart/form-data")
            .WithRequestExample(new JsonObject
            {
                ["method"] = "blended",
                ["prompt"] = "a blue square",
                // A red square on grey, and the square as the mask: the edit recolours it on the bundled model.
                ["image"] = ExampleImages.Png((x, y) => ExampleImages.InCentre(x, y) ? new(220, 40, 40) : new(128, 128, 128)),
                ["mask"] = ExampleImages.Png((x, y) => ExampleImages.InCentre(x, y) ? new(255, 255, 255) : new(0, 0, 0)),
            })
            .Produces<JobResponse>(StatusCodes.Status202Accepted)
            .ProducesValidationProblem()
            .ProducesValidationProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
        api.MapPost("{session}/render", RenderImagicSession)
            .WithName("RenderImagicSession")
            .WithSummary("Render an Imagic edit session at any η and seed, without training again")
            .WithDescription("`session` is the id or name of one of the caller's edit_session artifacts (an Imagic job's). JSON: `eta` (a number "
                + "or a list, default 0.7: one image per value; the text is η·e_tgt + (1 − η)·e_opt under the tuned model), `seed`, `steps`, "
                + "`guidance_scale`, `scheduler`, `negative_prompt`, `webhook`, `webhook_events`, `cancel_after`, `priority`. Answers 202 with a "
                + "job of kind `edit` on the model's generation queue. 404 for a session the caller does not have; 400 naming the field.\n\n"
                + IdempotencyKeys.Description)
            .WithIdempotencyKey()
            .Accepts<ImagicRenderRequest>("application/json")
            .WithRequestExample(new JsonObject { ["eta"] = new JsonArray(0.6, 0.7, 0.8), ["seed"] = 3 })
            .Produces<JobResponse>(StatusCodes.Status202Accepted)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
        return app;
    }

    public static async Task<Results<Accepted<JobResponse>, ProblemHttpResult>> RenderImagicSession(
        string session, HttpRequest http, [AsParameters] EditServices services, CancellationToken cancellationToken)
    {
        await services.Catalog.RefreshAsync(cancellationToken);
        var body = StrictRequestBody.IsJson(http)
            ? await StrictRequestBody.ReadJsonAsync<ImagicRenderRequest>(http, services.Json.Value.SerializerOptions, 1 << 20, cancellationToken)
            : new(StrictRequestBody.UnsupportedContentType(http, "application/json"));
        if (body.Refusal is { } refusal)
        {
            services.Metrics.RequestRejected(JobKind.Edit);
            return refusal.ToProblem();
        }
        var artifact = await services.Artifacts.ResolveAsync(session, http.HttpContext.GetOwner(), ArtifactKind.EditSession, cancellationToken);
        if (artifact is null || SessionInfo(artifact) is not { } info)
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such edit session.",
                detail: $"The caller has no edit_session artifact '{session}' (an Imagic job's artifacts list it).");
        var validation = services.Validator.ValidateRender(body.Value!, info);
        if (!validation.IsValid)
        {
            services.Metrics.RequestRejected(JobKind.Edit);
            return Invalid(validation.Status, validation.Errors);
        }
        if (await services.QueueCap.RefuseWhenFullAsync(http.HttpContext, cancellationToken) is { } queueFull)
            return queueFull;
        var (job, queued) = await JobSubmission.EnqueueAsync(http.HttpContext, services.Db, services.Dispatcher, services.Time, services.Metrics,
            JobKind.Edit, validation.Parameters!, validation.JobOptions, idempotent: true, cancellationToken);
        services.Logger.LogInformation("Job {JobId} (Imagic render of session {Session}, η {Etas}) queued as Hangfire job {HangfireJobId}",
            job.Id, artifact.Id, string.Join(", ", validation.Parameters!.Imagic!.Etas), queued);
        var queue = await JobQueue.DescribeAsync(services.Db, job, services.Time.GetUtcNow(), cancellationToken);
        return TypedResults.Accepted(JobApi.PathOf(job.Id), JobResponse.From(job, queue));
    }

    /// <summary>The target prompt, input image and training values an Imagic job wrote into its session's metadata.</summary>
    private static ImagicSessionInfo? SessionInfo(Artifact artifact)
    {
        var metadata = System.Text.Json.JsonSerializer.Deserialize<SessionMetadata>(artifact.Metadata ?? "{}", JobJson.Options);
        return metadata is { TargetPrompt: { } prompt, Image: { } image, Imagic: { } imagic } && artifact.BaseModel is { } model
            ? new ImagicSessionInfo(artifact.Id, model, prompt, image, imagic)
            : null;
    }

    private sealed record SessionMetadata(string? TargetPrompt, StoredInputImage? Image, ImagicUse? Imagic);

    public static async Task<Results<Accepted<JobResponse>, ProblemHttpResult>> CreateEdit(
        HttpRequest http, [AsParameters] EditServices services, CancellationToken cancellationToken)
    {
        await services.Catalog.RefreshAsync(cancellationToken);
        var body = await GenerationApi.ReadBodyAsync<EditRequest>(http, services.Json.Value.SerializerOptions, services.Limits.Value, UploadFields, cancellationToken);
        if (body.Refusal is { } refusal)
        {
            services.Metrics.RequestRejected(JobKind.Edit);
            return refusal.ToProblem();
        }

        var request = body.Value!;
        var validation = services.Validator.Validate(request,
            body.File("image") ?? await GenerationApi.ReadStoredInputAsync(request.Source?.Image ?? request.Image, http.HttpContext, services.Db, services.Blobs, cancellationToken),
            body.File("mask") ?? await GenerationApi.ReadStoredInputAsync(request.Mask, http.HttpContext, services.Db, services.Blobs, cancellationToken));
        if (!validation.IsValid)
        {
            services.Metrics.RequestRejected(JobKind.Edit);
            return Invalid(validation.Status, validation.Errors);
        }

        var edit = validation.Parameters!;
        var (resolved, unresolved) = await GenerationArtifacts.ResolveAsync(services.Artifacts, edit.ToGeneration(),
            validation.LoraFields ?? [], http.HttpContext.GetOwner(), cancellationToken, services.Catalog);
        if (resolved is null)
        {
            services.Metrics.RequestRejected(JobKind.Edit);
            return Invalid(StatusCodes.Status422UnprocessableEntity, unresolved);
        }
        if (await services.QueueCap.RefuseWhenFullAsync(http.HttpContext, cancellationToken) is { } queueFull)
            return queueFull;

        // Inputs go to the content-addressed blob store first (idempotent); the job row refers to them by key.
        edit = edit with
        {
            Loras = resolved.Loras,
            Embeddings = resolved.Embeddings,
            Image = validation.Image is { } image
                ? new StoredInputImage((await services.Blobs.PutAsync(image.Png, cancellationToken)).Key, image.Width, image.Height) : null,
            Mask = validation.Mask is { } mask
                ? new StoredInputImage((await services.Blobs.PutAsync(mask.Png, cancellationToken)).Key, mask.Width, mask.Height) : null,
        };

        var (job, queued) = await JobSubmission.EnqueueAsync(http.HttpContext, services.Db, services.Dispatcher, services.Time, services.Metrics,
            JobKind.Edit, edit, validation.JobOptions, idempotent: true, cancellationToken);
        services.Logger.LogInformation("Job {JobId} (edit {Method}, background {Background}, model {Model}) queued as Hangfire job {HangfireJobId}",
            job.Id, edit.Method, edit.Background, edit.Model, queued);
        var queue = await JobQueue.DescribeAsync(services.Db, job, services.Time.GetUtcNow(), cancellationToken);
        return TypedResults.Accepted(JobApi.PathOf(job.Id), JobResponse.From(job, queue));
    }

    private static ProblemHttpResult Invalid(int status, IDictionary<string, string[]> errors) =>
        TypedResults.Problem(new HttpValidationProblemDetails(errors)
        {
            Status = status,
            Title = status switch
            {
                StatusCodes.Status413PayloadTooLarge => "An input image is too large.",
                StatusCodes.Status422UnprocessableEntity => "The model cannot run this edit.",
                _ => "The edit request is invalid.",
            },
        });
}

public sealed record EditServices(
    EaselDbContext Db,
    EditRequestValidator Validator,
    IModelCatalog Catalog,
    IJobDispatcher Dispatcher,
    ArtifactResolver Artifacts,
    QueuedJobsCap QueueCap,
    IBlobStore Blobs,
    IOptions<GenerationOptions> Limits,
    IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> Json,
    EaselMetrics Metrics,
    TimeProvider Time,
    ILogger<EditServices> Logger);
