using System.Security.Claims;

namespace Easel.Api.Auth;

/// <summary>Who is calling: the id of the authenticated API key, which owns what the call creates.</summary>
public static class CallerExtensions
{
    /// <summary>The claim that carries the API key id of an authenticated caller.</summary>
    public const string KeyIdClaim = "easel:key_id";

    /// <summary>
    /// The caller's API key id, or null while authentication is off (then every row has a null owner). Queries compare
    /// <c>Owner == caller</c>, so another key's rows are never found (404), not forbidden (403).
    /// </summary>
    public static string? GetOwner(this HttpContext http) => http.User.FindFirstValue(KeyIdClaim);
}
