using System.Globalization;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Easel.Core.Auth;
using Easel.Core.Data;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Easel.Api.Auth;

/// <summary>
/// <c>Authorization: Bearer &lt;token&gt;</c>: the admin key from configuration, or an API key found by the SHA-256 of the
/// token. Answers 401 (with <c>WWW-Authenticate: Bearer</c>) and 403 as problem+json. Does nothing while authentication
/// is off, so that every caller stays anonymous and owns nothing.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IOptions<AuthOptions> auth,
    IProblemDetailsService problems)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var settings = auth.Value;
        if (!settings.IsEnabled || BearerToken(Request) is not { } token)
            return AuthenticateResult.NoResult();

        if (ApiKeyTokens.FixedTimeEquals(token, settings.AdminKey!))
            return Success(CallerClaims.Admin());

        var hash = ApiKeyTokens.Hash(token);
        var db = Context.RequestServices.GetRequiredService<EaselDbContext>();
        var key = await db.ApiKeys.AsNoTracking().SingleOrDefaultAsync(k => k.SecretHash == hash, Context.RequestAborted);
        if (key is null)
            return AuthenticateResult.Fail("The bearer token is not a known API key.");
        if (key.IsRevoked)
            return AuthenticateResult.Fail($"API key {key.Id} was revoked.");
        return Success(CallerClaims.For(key));
    }

    private AuthenticateResult Success(ClaimsIdentity identity) =>
        AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name));

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers[HeaderNames.WWWAuthenticate] = result.Failure is null
            ? "Bearer realm=\"Easel\""
            : "Bearer realm=\"Easel\", error=\"invalid_token\"";
        var detail = !auth.Value.IsEnabled
            ? "Authentication is off (Easel:Auth:AdminKey is not set), so there is no admin and no API key is accepted."
            : result.Failure?.Message ?? "Send an API key as 'Authorization: Bearer <key>'.";
        await WriteProblemAsync(StatusCodes.Status401Unauthorized, "Authentication required.", detail);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        return WriteProblemAsync(StatusCodes.Status403Forbidden, "Forbidden.", "This endpoint needs the admin key.");
    }

    private async Task WriteProblemAsync(int status, string title, string detail) =>
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail },
        });

    /// <summary>The token of an <c>Authorization: Bearer</c> header, or null.</summary>
    internal static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        return header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) && header[scheme.Length..].Trim() is { Length: > 0 } token
            ? token
            : null;
    }
}

/// <summary>The claims of an authenticated caller: the key id (the owner), the admin role and the key's own limits.</summary>
public static class CallerClaims
{
    public const string AdminRole = "admin";

    public const string RateLimitPerMinute = "easel:rate_limit_per_minute";

    public const string MaxQueuedJobs = "easel:max_queued_jobs";

    public const string MaxStorageBytes = "easel:max_storage_bytes";

    public static ClaimsIdentity Admin() => new(
        [new Claim(CallerExtensions.KeyIdClaim, AuthOptions.AdminOwner), new Claim(ClaimTypes.Role, AdminRole)],
        ApiKeyAuthenticationHandler.SchemeName);

    public static ClaimsIdentity For(ApiKey key)
    {
        var claims = new List<Claim> { new(CallerExtensions.KeyIdClaim, key.Id), new(ClaimTypes.Name, key.Name) };
        if (key.RateLimitPerMinute is { } rate)
            claims.Add(new Claim(RateLimitPerMinute, rate.ToString(CultureInfo.InvariantCulture), ClaimValueTypes.Integer32));
        if (key.MaxQueuedJobs is { } queued)
            claims.Add(new Claim(MaxQueuedJobs, queued.ToString(CultureInfo.InvariantCulture), ClaimValueTypes.Integer32));
        if (key.MaxStorageBytes is { } storage)
            claims.Add(new Claim(MaxStorageBytes, storage.ToString(CultureInfo.InvariantCulture), ClaimValueTypes.Integer64));
        return new ClaimsIdentity(claims, ApiKeyAuthenticationHandler.SchemeName);
    }

    /// <summary>An integer claim of the caller, or null when the key has none (then the configured default applies).</summary>
    public static long? GetLong(this HttpContext http, string claim) =>
        http.User.FindFirstValue(claim) is { } value ? long.Parse(value, CultureInfo.InvariantCulture) : null;

    /// <summary>An integer claim of the caller, or null when the key has none (then the configured default applies).</summary>
    public static int? GetInt(this HttpContext http, string claim) =>
        http.User.FindFirstValue(claim) is { } value ? int.Parse(value, CultureInfo.InvariantCulture) : null;
}
