using System.Text.Json.Nodes;
using Easel.Api.Auth;
using Easel.Api.Extensions;
using Easel.Core;
using Easel.Core.Auth;
using Easel.Core.Data;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Easel.Api.Apis;

/// <summary>API keys, managed with the admin key (<c>Easel:Auth:AdminKey</c>).</summary>
public static class AdminApi
{
    public const int MaxNameLength = 200;

    public const int MaxLimit = 1_000_000;

    /// <summary>A key request is a name and two numbers; anything near this size is not one.</summary>
    public const long MaxBodyBytes = 64 * 1024;

    public static string PathOf(string id) => $"/v1/admin/keys/{id}";

    public static IEndpointRouteBuilder MapAdminEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("v1/admin/keys").WithTags("Admin").RequireAuthorization(AuthPolicies.Admin);

        api.MapPost("", CreateKey)
            .WithName("CreateApiKey")
            .WithSummary("Create an API key")
            .WithDescription("Answers 201 with the key and its `token`, which is shown this once and never again (only its "
                + "SHA-256 is stored). Send it as `Authorization: Bearer <token>`. Everything the key creates belongs to it; "
                + "other keys get 404. `rate_limit_per_minute` and `max_queued_jobs` override Easel:Auth:DefaultRateLimitPerMinute "
                + "and Easel:Auth:DefaultMaxQueuedJobs for this key; `max_storage_bytes` overrides Easel:Auth:DefaultMaxStorageBytes (artifact storage).")
            .Accepts<CreateApiKeyRequest>("application/json")
            .WithRequestExample(new JsonObject { ["name"] = "ci", ["rate_limit_per_minute"] = 120, ["max_queued_jobs"] = 10 })
            .Produces<CreatedApiKeyResponse>(StatusCodes.Status201Created)
            .ProducesValidationProblem()
            .ProducesValidationProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesValidationProblem(StatusCodes.Status415UnsupportedMediaType);

        api.MapGet("", ListKeys)
            .WithName("ListApiKeys")
            .WithSummary("List the API keys")
            .WithDescription("Every key, oldest first, revoked ones included, with its display prefix but never its secret.");

        api.MapGet("{id}", GetKey)
            .WithName("GetApiKey")
            .WithSummary("Get an API key")
            .WithDescription("The key's name, prefix, limits and whether it was revoked; never its secret.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        api.MapDelete("{id}", RevokeKey)
            .WithName("RevokeApiKey")
            .WithSummary("Revoke an API key")
            .WithDescription("From now on the key is refused with 401. Its jobs and images stay stored (and keep running). "
                + "Revoking a revoked key is a no-op (204).")
            .Produces(StatusCodes.Status204NoContent)
            .ProducesProblem(StatusCodes.Status404NotFound);

        return app;
    }

    public static async Task<Results<Created<CreatedApiKeyResponse>, ValidationProblem, ProblemHttpResult>> CreateKey(
        HttpRequest http, IOptions<JsonOptions> json, EaselDbContext db, TimeProvider time, ILogger<AdminServices> logger,
        CancellationToken cancellationToken)
    {
        var body = StrictRequestBody.IsJson(http)
            ? await StrictRequestBody.ReadJsonAsync<CreateApiKeyRequest>(http, json.Value.SerializerOptions, MaxBodyBytes, cancellationToken)
            : new(StrictRequestBody.UnsupportedContentType(http, "application/json"));
        if (body.Refusal is { } refusal)
            return refusal.ToProblem();
        var request = body.Value!;
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var name = request.Name?.Trim();
        if (string.IsNullOrEmpty(name))
            errors["name"] = ["A name is required (who or what uses the key)."];
        else if (name.Length > MaxNameLength)
            errors["name"] = [$"The name has {name.Length} characters; at most {MaxNameLength} are allowed."];
        if (request.RateLimitPerMinute is < 1 or > MaxLimit)
            errors["rate_limit_per_minute"] = [$"rate_limit_per_minute must be between 1 and {MaxLimit}."];
        if (request.MaxQueuedJobs is < 1 or > MaxLimit)
            errors["max_queued_jobs"] = [$"max_queued_jobs must be between 1 and {MaxLimit}."];
        if (request.MaxStorageBytes is < 0)
            errors["max_storage_bytes"] = ["max_storage_bytes must be 0 or more."];
        if (errors.Count > 0)
            return TypedResults.ValidationProblem(errors, title: "The API key request is invalid.");

        var (key, token) = ApiKeyTokens.Create(name!, request.RateLimitPerMinute, request.MaxQueuedJobs, time.GetUtcNowMilliseconds());
        key.MaxStorageBytes = request.MaxStorageBytes;
        db.ApiKeys.Add(key);
        await db.SaveChangesAsync(cancellationToken);
        logger.LogInformation("API key {KeyId} ({KeyPrefix}) created for {KeyName}", key.Id, key.Prefix, key.Name);
        return TypedResults.Created(PathOf(key.Id), CreatedApiKeyResponse.From(key, token));
    }

    public static async Task<Ok<ApiKeyListResponse>> ListKeys(EaselDbContext db, CancellationToken cancellationToken)
    {
        var keys = await db.ApiKeys.AsNoTracking().ToListAsync(cancellationToken);
        return TypedResults.Ok(new ApiKeyListResponse(keys.OrderBy(k => k.CreatedAt).ThenBy(k => k.Id, StringComparer.Ordinal)
            .Select(ApiKeyResponse.From).ToList()));
    }

    public static async Task<Results<Ok<ApiKeyResponse>, ProblemHttpResult>> GetKey(
        string id, EaselDbContext db, CancellationToken cancellationToken)
    {
        var key = await db.ApiKeys.AsNoTracking().SingleOrDefaultAsync(k => k.Id == id, cancellationToken);
        return key is null ? NotFound(id) : TypedResults.Ok(ApiKeyResponse.From(key));
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> RevokeKey(
        string id, EaselDbContext db, TimeProvider time, ILogger<AdminServices> logger, CancellationToken cancellationToken)
    {
        var key = await db.ApiKeys.SingleOrDefaultAsync(k => k.Id == id, cancellationToken);
        if (key is null)
            return NotFound(id);
        if (!key.IsRevoked)
        {
            key.RevokedAt = time.GetUtcNowMilliseconds();
            await db.SaveChangesAsync(cancellationToken);
            logger.LogInformation("API key {KeyId} ({KeyPrefix}) revoked", key.Id, key.Prefix);
        }
        return TypedResults.NoContent();
    }

    private static ProblemHttpResult NotFound(string id) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "API key not found", detail: $"No API key has id {id}.");
}

public sealed record CreateApiKeyRequest(string? Name, int? RateLimitPerMinute, int? MaxQueuedJobs, long? MaxStorageBytes = null);

/// <summary>An API key as listed: never its secret.</summary>
public sealed record ApiKeyResponse(
    string Id,
    string Name,
    string Prefix,
    DateTimeOffset CreatedAt,
    DateTimeOffset? RevokedAt,
    int? RateLimitPerMinute,
    int? MaxQueuedJobs)
{
    public static ApiKeyResponse From(ApiKey key) =>
        new(key.Id, key.Name, key.Prefix, key.CreatedAt, key.RevokedAt, key.RateLimitPerMinute, key.MaxQueuedJobs);
}

/// <summary>A new key with its bearer token, the only time the token is shown.</summary>
public sealed record CreatedApiKeyResponse(
    string Id,
    string Name,
    string Prefix,
    DateTimeOffset CreatedAt,
    int? RateLimitPerMinute,
    int? MaxQueuedJobs,
    string Token)
{
    public static CreatedApiKeyResponse From(ApiKey key, string token) =>
        new(key.Id, key.Name, key.Prefix, key.CreatedAt, key.RateLimitPerMinute, key.MaxQueuedJobs, token);
}

public sealed record ApiKeyListResponse(IReadOnlyList<ApiKeyResponse> Data);

/// <summary>Log category of the admin endpoints.</summary>
public sealed class AdminServices;
