using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;

namespace Easel.Api.Auth;

/// <summary>
/// Requests per minute under /v1, one fixed one-minute window per API key (its own limit or
/// <c>Easel:Auth:DefaultRateLimitPerMinute</c>); unauthenticated requests share a window per remote address. A refusal's
/// <c>Retry-After</c> is the seconds left in the window (<see cref="FixedWindowLimiter"/>). The
/// windows live in this process: with several API replicas each enforces the limit on its own.
/// </summary>
public static class CallerRateLimiter
{
    public static void Configure(RateLimiterOptions options, AuthOptions auth, TimeProvider time)
    {
        options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
        options.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
        {
            if (!http.Request.Path.StartsWithSegments(V1CallerRequirementHandler.ProtectedPrefix, StringComparison.OrdinalIgnoreCase))
                return RateLimitPartition.GetNoLimiter("");
            if (http.GetOwner() is { } keyId)
            {
                var limit = http.GetInt(CallerClaims.RateLimitPerMinute) ?? auth.DefaultRateLimitPerMinute;
                return RateLimitPartition.Get($"key:{keyId}:{limit}", _ => PerMinute(limit, time));
            }
            if (auth.IsEnabled || auth.RateLimitWhenOpen)
                return RateLimitPartition.Get($"address:{http.Connection.RemoteIpAddress}", _ => PerMinute(auth.DefaultRateLimitPerMinute, time));
            return RateLimitPartition.GetNoLimiter("");
        });
        options.OnRejected = async (context, cancellationToken) =>
        {
            var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromMinutes(1);
            // Whole seconds, rounded up: retrying after them lands in the next window.
            var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
            var http = context.HttpContext;
            http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            var limit = http.GetOwner() is null ? auth.DefaultRateLimitPerMinute : http.GetInt(CallerClaims.RateLimitPerMinute) ?? auth.DefaultRateLimitPerMinute;
            await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
            {
                HttpContext = http,
                ProblemDetails = new ProblemDetails
                {
                    Status = StatusCodes.Status429TooManyRequests,
                    Title = "Too many requests.",
                    Detail = $"At most {limit} requests per minute are allowed (rate_limit_per_minute); retry after {seconds} s.",
                },
            });
        };
    }

    private static RateLimiter PerMinute(int limit, TimeProvider time) => new FixedWindowLimiter(limit, TimeSpan.FromMinutes(1), time);
}
