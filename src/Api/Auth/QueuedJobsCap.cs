using System.Globalization;
using Easel.Core.Data;
using Easel.Core.Jobs;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Easel.Api.Auth;

/// <summary>
/// How many jobs one API key may have queued at once: its own <c>max_queued_jobs</c> or
/// <c>Easel:Auth:DefaultMaxQueuedJobs</c>. A soft cap (two submits racing may both pass); with authentication off there
/// are no keys and no cap.
/// </summary>
public sealed class QueuedJobsCap(EaselDbContext db, IOptions<AuthOptions> auth)
{
    /// <summary>A 429 problem (with Retry-After set on the response) when the caller's queue is full, else null.</summary>
    public async Task<ProblemHttpResult?> RefuseWhenFullAsync(HttpContext http, CancellationToken cancellationToken)
    {
        if (http.GetOwner() is not { } owner)
            return null;
        var cap = http.GetInt(CallerClaims.MaxQueuedJobs) ?? auth.Value.DefaultMaxQueuedJobs;
        var queued = await db.Jobs.CountAsync(j => j.Owner == owner && j.Status == JobStatus.Queued, cancellationToken);
        if (queued < cap)
            return null;
        http.Response.Headers.RetryAfter = auth.Value.QueueFullRetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        return TypedResults.Problem(
            statusCode: StatusCodes.Status429TooManyRequests,
            title: "Too many queued jobs.",
            detail: $"This API key may have at most {cap} jobs queued at once (max_queued_jobs) and has {queued}; "
                + "retry when some of them have started.");
    }
}
