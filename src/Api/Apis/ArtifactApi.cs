using System.Text.Json;
using System.Text.Json.Nodes;
using Easel.Api.Auth;
using Easel.Api.Extensions;
using Easel.Core;
using Easel.Core.Artifacts;
using Easel.Core.Data;
using Easel.Core.Jobs;
using Easel.Core.Models;
using Easel.Core.Options;
using Easel.Core.Storage;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Easel.Api.Apis;

public static class ArtifactApi
{
    /// <summary>The largest artifact file accepted (a rank-128 SDXL LoRA is about 900 MB; kohya files of 200 MB are common).</summary>
    public const long MaxFileBytes = 1L << 30;

    /// <summary>The kinds a caller may upload; the others are written by jobs.</summary>
    public static readonly IReadOnlyList<ArtifactKind> UploadKinds = [ArtifactKind.Lora, ArtifactKind.Embedding];

    public static string PathOf(Guid id) => $"/v1/artifacts/{id}";

    public static IEndpointRouteBuilder MapArtifactEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("v1/artifacts").WithTags("Artifacts");

        api.MapPost("", CreateArtifact)
            .WithName("CreateArtifact")
            .WithSummary("Upload a LoRA or an embedding")
            .WithDescription("multipart/form-data with `file` (a .safetensors file), `kind` (`lora` or `embedding`), `name` ("
                + ArtifactNames.Rule + "; unique among the caller's artifacts) and optionally `base_model` (a configured model). "
                + "The layout is detected from the keys: LoRAs in kohya, diffusers or PEFT layout, embeddings in diffusers "
                + "(learned_embeds.safetensors) or A1111 layout. With `base_model`, every key must map onto a weight of that "
                + "model with a fitting shape. Answers 201 with the artifact and its Location. Refusals name the field: 400 for "
                + "a missing or bad field or a file that is not safetensors, 409 for a name already taken, 413 when the file "
                + "would take the caller over its storage quota (Easel:Auth:DefaultMaxStorageBytes, or the key's "
                + "`max_storage_bytes`), 415 for a pickle (.pt/.ckpt/.bin: unpickling can execute code), 422 for keys that fit "
                + "no layout or not the base model (the first of them are named).")
            .AddEndpointFilter(AllowLargeBodyAsync)
            .Accepts<ArtifactUploadRequest>("multipart/form-data")
            .Produces<ArtifactResponse>(StatusCodes.Status201Created)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesValidationProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesValidationProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);

        api.MapGet("", ListArtifacts)
            .WithName("ListArtifacts")
            .WithSummary("List artifacts, newest first")
            .WithDescription("The caller's live artifacts, newest first (created_at, then id). `kind` filters (comma-separated "
                + "values allowed); `limit` is 1–100 (default 20); `next_cursor` is passed as `cursor` for the next page and is "
                + "null on the last one, as for GET /v1/jobs. A bad `kind`, `cursor` or `limit` answers 400 naming the field.")
            .ProducesValidationProblem();

        api.MapGet("{id:guid}", GetArtifact)
            .WithName("GetArtifact")
            .WithSummary("Get an artifact")
            .WithDescription("Kind, name, format, base model and hash, size, sha256, the metadata read from the file (rank, "
                + "alpha, target modules, tokens, vectors) and, for a trained artifact, its lineage (job, parameters, dataset "
                + "hash). Another key's artifact, or a deleted one, answers 404.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        api.MapGet("{id:guid}/file", GetArtifactFile)
            .WithName("GetArtifactFile")
            .WithSummary("Download an artifact's file")
            .WithDescription("The .safetensors bytes as stored (ETag = sha256). `format` (`kohya`, `diffusers`, `peft`) asks for "
                + "a LoRA in another layout: the same updates under that layout's keys (kohya keeps each update's alpha; "
                + "diffusers and PEFT, which carry none, get it folded into the up weights). 422 naming `format` when the "
                + "weights cannot be written so (an SDXL kohya file with LDM module names converts to kohya only).")
            .Produces(StatusCodes.Status200OK, contentType: "application/octet-stream")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);

        api.MapDelete("{id:guid}", DeleteArtifact)
            .WithName("DeleteArtifact")
            .WithSummary("Delete an artifact")
            .WithDescription("Hides the artifact from its owner and frees its name and quota (204). Jobs that already refer to "
                + "it keep working from their own references. Another key's artifact, or a deleted one, answers 404.")
            .Produces(StatusCodes.Status204NoContent)
            .ProducesProblem(StatusCodes.Status404NotFound);

        return app;
    }

    public static async Task<Results<Created<ArtifactResponse>, ProblemHttpResult>> CreateArtifact(
        HttpRequest http, [AsParameters] ArtifactServices services, CancellationToken cancellationToken)
    {
        if (!StrictRequestBody.IsMultipart(http))
            return StrictRequestBody.UnsupportedContentType(http, "multipart/form-data").ToProblem();
        var body = await StrictRequestBody.ReadMultipartAsync<ArtifactUploadRequest>(http, services.Json.Value.SerializerOptions,
            new FormOptions { MultipartBodyLengthLimit = MaxFileBytes + (1 << 20) }, ["file"], MaxFileBytes, cancellationToken);
        if (body.Refusal is { } refusal)
            return refusal.ToProblem();

        var request = body.Value!;
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var file = body.File("file");
        var fileName = http.Form.Files.GetFile("file")?.FileName ?? "";
        if (file is null)
            errors["file"] = ["A file part named 'file' is required (the .safetensors file)."];
        var kind = default(ArtifactKind);
        if (request.Kind is null)
            errors["kind"] = ["kind is required: lora or embedding."];
        else if (!Enum.TryParse(request.Kind.Replace("_", ""), ignoreCase: true, out kind) || !UploadKinds.Contains(kind)
                 || JsonNamingPolicy.SnakeCaseLower.ConvertName(kind.ToString()) != request.Kind)
            errors["kind"] = [$"kind '{request.Kind}' cannot be uploaded; use lora or embedding."];
        if (request.Name is null)
            errors["name"] = ["name is required: what requests and prompts call the artifact."];
        else if (!ArtifactNames.IsValid(request.Name))
            errors["name"] = [$"name must be {ArtifactNames.Rule}."];
        if (request.BaseModel is not null)
        {
            await services.Catalog.RefreshAsync(cancellationToken);
            if (!services.Catalog.TryGet(request.BaseModel, out _))
                errors["base_model"] = [$"Unknown model '{request.BaseModel}'; GET /v1/models lists the configured ones."];
        }
        if (errors.Count > 0)
            return Invalid(StatusCodes.Status400BadRequest, "The artifact upload is invalid.", errors);
        if (ModelOptions.IsPickle(fileName))
            return Invalid(StatusCodes.Status415UnsupportedMediaType, "Pickle files are refused.", new()
            {
                ["file"] = [$"'{fileName}' is a pickle file: unpickling can execute arbitrary code, so only .safetensors files are accepted. Convert it with a trusted tool first."],
            });

        var owner = http.HttpContext.GetOwner();
        var quota = http.HttpContext.GetLong(CallerClaims.MaxStorageBytes) ?? services.Auth.Value.DefaultMaxStorageBytes;
        var used = await services.Resolver.StoredBytesAsync(owner, cancellationToken);
        if (used + file!.Length > quota)
            return Invalid(StatusCodes.Status413PayloadTooLarge, "The storage quota would be exceeded.", new()
            {
                ["file"] = [$"The file is {file.Length} bytes and the caller's artifacts already take {used} of its {quota}-byte quota; delete artifacts or ask for a larger quota."],
            });

        var inspection = await services.Inspector.InspectAsync(kind, file, request.BaseModel, cancellationToken);
        if (inspection.Refusal is { } refused)
        {
            var message = refused.MismatchedKeys.Count == 0 ? refused.Message : $"{refused.Message} First keys: {string.Join(", ", refused.MismatchedKeys)}.";
            return refused.Reason switch
            {
                ArtifactRefusalReason.Pickle => Invalid(StatusCodes.Status415UnsupportedMediaType, "Pickle files are refused.", new() { ["file"] = [message] }),
                ArtifactRefusalReason.NotSafeTensors => Invalid(StatusCodes.Status400BadRequest, "The artifact upload is invalid.", new() { ["file"] = [message] }),
                _ => Invalid(StatusCodes.Status422UnprocessableEntity, "The file does not fit.", new() { ["file"] = [message] }),
            };
        }
        if (await services.Resolver.ResolveAsync(request.Name!, owner, null, cancellationToken) is { Name: var taken } && taken == request.Name)
            return NameTaken(request.Name!);

        var blob = await services.Blobs.PutAsync(file, cancellationToken);
        var artifact = new Artifact
        {
            Id = Guid.CreateVersion7(services.Time.GetUtcNow()),
            Owner = owner,
            Kind = kind,
            Name = request.Name!,
            Format = inspection.Format!.Value,
            BaseModel = request.BaseModel,
            BlobKey = blob.Key,
            Sha256 = blob.Sha256,
            ByteSize = blob.ByteSize,
            Metadata = JsonSerializer.Serialize(inspection.Metadata, JobJson.Options),
            CreatedAt = services.Time.GetUtcNowMilliseconds(),
        };
        services.Db.Artifacts.Add(artifact);
        try
        {
            await services.Db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            // Two uploads of one name raced; the unique index let one through.
            return NameTaken(request.Name!);
        }
        services.Logger.LogInformation("Artifact {ArtifactId} ({Kind} {Format}, {Bytes} bytes) stored as {Name}",
            artifact.Id, artifact.Kind, artifact.Format, artifact.ByteSize, artifact.Name);
        return TypedResults.Created(PathOf(artifact.Id), ArtifactResponse.From(artifact));
    }

    public static async Task<Results<Ok<ArtifactListResponse>, ProblemHttpResult>> ListArtifacts(
        string? kind, string? cursor, string? limit, HttpContext http, EaselDbContext db, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var kinds = JobApi.ParseNames<ArtifactKind>(kind, "kind", errors);
        var size = JobApi.ParseLimit(limit, errors);
        var after = default(JobCursor);
        if (cursor is not null && !JobCursor.TryDecode(cursor, out after))
            errors["cursor"] = ["cursor is not a value this service returned as next_cursor."];
        if (errors.Count > 0)
            return TypedResults.Problem(new HttpValidationProblemDetails(errors) { Status = 400, Title = "The artifact list query is invalid." });

        var owner = http.GetOwner();
        var query = db.Artifacts.AsNoTracking().Where(a => a.Owner == owner && a.DeletedAt == null);
        if (kinds is not null)
            query = query.Where(a => kinds.Contains(a.Kind));
        if (cursor is not null)
        {
            var (createdAt, id) = (after.CreatedAt, after.Id);
            query = query.Where(a => a.CreatedAt < createdAt || (a.CreatedAt == createdAt && a.Id.CompareTo(id) < 0));
        }
        var page = await query.OrderByDescending(a => a.CreatedAt).ThenByDescending(a => a.Id).Take(size + 1).ToListAsync(cancellationToken);
        var more = page.Count > size;
        if (more)
            page.RemoveAt(size);
        return TypedResults.Ok(new ArtifactListResponse(
            [.. page.Select(ArtifactResponse.From)],
            more ? new JobCursor(page[^1].CreatedAt, page[^1].Id).Encode() : null));
    }

    public static async Task<Results<Ok<ArtifactResponse>, ProblemHttpResult>> GetArtifact(
        Guid id, HttpContext http, EaselDbContext db, CancellationToken cancellationToken) =>
        await FindAsync(db, id, http.GetOwner(), cancellationToken) is { } artifact ? TypedResults.Ok(ArtifactResponse.From(artifact)) : NotFound(id);

    public static async Task<Results<FileStreamHttpResult, ProblemHttpResult>> GetArtifactFile(
        Guid id, string? format, HttpContext http, EaselDbContext db, IBlobStore blobs, IArtifactConverter converter,
        CancellationToken cancellationToken)
    {
        if (await FindAsync(db, id, http.GetOwner(), cancellationToken) is not { } artifact)
            return NotFound(id);
        if (format is not null)
        {
            var names = new[] { ArtifactFormat.Kohya, ArtifactFormat.Diffusers, ArtifactFormat.Peft }
                .ToDictionary(f => JsonNamingPolicy.SnakeCaseLower.ConvertName(f.ToString()), f => f, StringComparer.Ordinal);
            if (artifact.Kind != ArtifactKind.Lora || !names.TryGetValue(format, out var wanted))
                return Invalid(StatusCodes.Status400BadRequest, "The download query is invalid.", new()
                {
                    ["format"] = [artifact.Kind == ArtifactKind.Lora ? $"Unknown format '{format}'; use kohya, diffusers or peft." : "format applies to LoRAs only."],
                });
            if (wanted != artifact.Format)
            {
                Stream converted;
                try
                {
                    converted = await converter.ConvertLoraAsync(artifact, wanted, cancellationToken);
                }
                catch (ArgumentException e)
                {
                    return Invalid(StatusCodes.Status422UnprocessableEntity, "The layout conversion is not possible.", new() { ["format"] = [e.Message] });
                }
                // A converted file has its own bytes, so no ETag of the stored file.
                return TypedResults.File(converted, "application/octet-stream", $"{artifact.Name}.{format}.safetensors");
            }
        }
        var stream = blobs.OpenRead(artifact.BlobKey);
        if (stream is null)
            return NotFound(id);
        return TypedResults.File(stream, "application/octet-stream", artifact.Name + ".safetensors",
            entityTag: new Microsoft.Net.Http.Headers.EntityTagHeaderValue($"\"{artifact.Sha256}\""));
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteArtifact(
        Guid id, HttpContext http, EaselDbContext db, TimeProvider time, CancellationToken cancellationToken)
    {
        var owner = http.GetOwner();
        var now = time.GetUtcNowMilliseconds();
        var deleted = await db.Artifacts.Where(a => a.Id == id && a.Owner == owner && a.DeletedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.DeletedAt, now), cancellationToken);
        return deleted == 0 ? NotFound(id) : TypedResults.NoContent();
    }

    private static Task<Artifact?> FindAsync(EaselDbContext db, Guid id, string? owner, CancellationToken cancellationToken) =>
        db.Artifacts.AsNoTracking().SingleOrDefaultAsync(a => a.Id == id && a.Owner == owner && a.DeletedAt == null, cancellationToken);

    private static ProblemHttpResult NotFound(Guid id) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Artifact not found", detail: $"No artifact has id {id}.");

    private static ProblemHttpResult NameTaken(string name) =>
        TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "The name is taken.",
            detail: $"Another of the caller's artifacts is named '{name}'; choose another name or delete that artifact first.");

    private static ProblemHttpResult Invalid(int status, string title, Dictionary<string, string[]> errors) =>
        TypedResults.Problem(new HttpValidationProblemDetails(errors) { Status = status, Title = title });

    /// <summary>Raises the request body limit to the file limit before anything reads the body.</summary>
    private static ValueTask<object?> AllowLargeBodyAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (context.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
            size.MaxRequestBodySize = Math.Max(size.MaxRequestBodySize ?? 0, MaxFileBytes + (1 << 20));
        return next(context);
    }
}

/// <param name="File">The .safetensors file (a file part).</param>
/// <param name="Kind"><c>lora</c> or <c>embedding</c>.</param>
/// <param name="Name">What requests and prompts call the artifact; unique among the caller's artifacts.</param>
/// <param name="BaseModel">A configured model the file must fit; omitted, only the layout is checked.</param>
public sealed record ArtifactUploadRequest(string? File, string? Kind, string? Name, string? BaseModel);

public sealed record ArtifactResponse(
    Guid Id,
    ArtifactKind Kind,
    string Name,
    ArtifactFormat Format,
    string? BaseModel,
    string? BaseModelHash,
    long ByteSize,
    string Sha256,
    JsonObject Metadata,
    Guid? JobId,
    DateTimeOffset CreatedAt,
    string FileUrl)
{
    public static ArtifactResponse From(Artifact artifact) => new(
        artifact.Id, artifact.Kind, artifact.Name, artifact.Format, artifact.BaseModel, artifact.BaseModelHash, artifact.ByteSize,
        artifact.Sha256, JsonNode.Parse(artifact.Metadata) as JsonObject ?? [], artifact.JobId, artifact.CreatedAt,
        ArtifactApi.PathOf(artifact.Id) + "/file");
}

/// <summary>A page of artifacts; <c>next_cursor</c> is null on the last page.</summary>
public sealed record ArtifactListResponse(IReadOnlyList<ArtifactResponse> Data, string? NextCursor);

public sealed record ArtifactServices(
    EaselDbContext Db,
    ArtifactResolver Resolver,
    IArtifactInspector Inspector,
    IModelCatalog Catalog,
    IBlobStore Blobs,
    IOptions<AuthOptions> Auth,
    IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> Json,
    TimeProvider Time,
    ILogger<ArtifactServices> Logger);
