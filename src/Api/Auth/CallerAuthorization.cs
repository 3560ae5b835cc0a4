using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;

namespace Easel.Api.Auth;

/// <summary>
/// The fallback policy of every endpoint without its own: under /v1 the caller must present a valid key while
/// authentication is on. Health, readiness and metrics stay open (they carry no tenant data; who may scrape /metrics is
/// a matter of the deployment's network). Being the fallback, it also covers endpoints added later.
/// </summary>
public sealed class V1CallerRequirement : IAuthorizationRequirement;

public sealed class V1CallerRequirementHandler(IOptions<AuthOptions> auth) : AuthorizationHandler<V1CallerRequirement>
{
    public const string ProtectedPrefix = "/v1";

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, V1CallerRequirement requirement)
    {
        var open = !auth.Value.IsEnabled
            || context.User.Identity?.IsAuthenticated == true
            || context.Resource is HttpContext http && !http.Request.Path.StartsWithSegments(ProtectedPrefix, StringComparison.OrdinalIgnoreCase);
        if (open)
            context.Succeed(requirement);
        return Task.CompletedTask;
    }
}

public static class AuthPolicies
{
    /// <summary>Only the admin key (configuration <c>Easel:Auth:AdminKey</c>).</summary>
    public const string Admin = "admin";
}
