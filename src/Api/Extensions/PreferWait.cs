using System.Globalization;
using Easel.Api.Apis;
using Easel.Api.Auth;
using Easel.Core;
using Easel.Core.Data;
using Easel.Core.Jobs;
using Easel.Core.Models;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Primitives;

namespace Easel.Api.Extensions;

/// <summary>
/// <c>Prefer: wait=N</c> (RFC 7240 §4.3) on endpoints that answer with a job: the response is held until the job has
/// finished or N seconds have passed. A finish saved in this process wakes the wait at once (<see cref="JobCompletionSignal"/>);
/// otherwise the job row is polled (a status-only query every <see cref="PollInterval"/>), so it works whichever process
/// runs the job.
/// </summary>
public static class PreferWait
{
    public const int MaxSeconds = 60;

    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

    public const string Description = "`Prefer: wait=N` (RFC 7240) holds the response until the job has finished or N seconds "
        + "have passed; N above 60 is treated as 60, a malformed value is ignored; an applied wait is echoed as "
        + "`Preference-Applied: wait=N`. A closed connection ends the wait.";

    /// <summary>Marks an endpoint as honouring the preference (for the OpenAPI document).</summary>
    public sealed class Metadata;

    public static RouteHandlerBuilder WithPreferWait(this RouteHandlerBuilder builder) =>
        builder.AddEndpointFilter(InvokeAsync).WithMetadata(new Metadata());

    /// <summary>
    /// The seconds asked for by the first <c>wait</c> preference, capped at <see cref="MaxSeconds"/>; null when absent or
    /// not a non-negative integer (RFC 7240: a preference the server cannot honour is ignored).
    /// </summary>
    public static int? Parse(StringValues prefer)
    {
        foreach (var header in prefer)
        {
            foreach (var preference in (header ?? "").Split(','))
            {
                var token = preference.Split(';')[0].Trim();
                var equals = token.IndexOf('=');
                var name = (equals < 0 ? token : token[..equals]).Trim();
                if (!name.Equals("wait", StringComparison.OrdinalIgnoreCase))
                    continue;
                var value = equals < 0 ? "" : token[(equals + 1)..].Trim().Trim('"');
                return int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
                    ? Math.Min(seconds, MaxSeconds)
                    : value.Length > 0 && value.All(char.IsAsciiDigit) ? MaxSeconds : null; // digits too many for an int: the cap
            }
        }
        return null;
    }

    private static async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var seconds = Parse(http.Request.Headers["Prefer"]);
        var result = await next(context);
        if (seconds is null || JobResults.Read(result) is not ({ } job, var status))
            return result; // nothing to wait for: absent preference, or a refusal
        http.Response.Headers["Preference-Applied"] = $"wait={seconds}";
        http.Response.Headers.Append("Vary", "Prefer"); // RFC 7240 §2: the answer depends on the preference
        if (job.IsFinished || seconds == 0)
            return result;

        var services = http.RequestServices;
        var db = services.GetRequiredService<EaselDbContext>();
        var time = services.GetRequiredService<TimeProvider>();
        var signal = services.GetRequiredService<JobCompletionSignal>();
        var deadline = time.GetUtcNow() + TimeSpan.FromSeconds(seconds.Value);
        while (time.GetUtcNow() < deadline)
        {
            var remaining = deadline - time.GetUtcNow();
            var finishedHere = signal.Next(job.Id);
            try
            {
                // Registered before the read, so that a finish between the read and the delay still wakes us.
                var current = await db.Jobs.AsNoTracking().Where(j => j.Id == job.Id).Select(j => (JobStatus?)j.Status)
                    .FirstOrDefaultAsync(http.RequestAborted);
                if (current is null or JobStatus.Succeeded or JobStatus.Failed or JobStatus.Canceled)
                    break;
                await Task.WhenAny(finishedHere, Task.Delay(remaining < PollInterval ? remaining : PollInterval, time, http.RequestAborted));
                http.RequestAborted.ThrowIfCancellationRequested();
            }
            finally
            {
                signal.Forget(job.Id, finishedHere);
            }
        }

        var latest = await JobApi.LoadAsync(db, http.RequestServices.GetRequiredService<IModelCatalog>(), job.Id, http.GetOwner(), time, http.RequestAborted) ?? job;
        if (status != StatusCodes.Status202Accepted)
            return TypedResults.Ok(latest);
        if (!latest.IsFinished)
            return TypedResults.Accepted(latest.Url, latest);
        // Finished within the wait: 200 with the final job (202 would say "not done yet"); Location still names it.
        http.Response.Headers.Location = latest.Url;
        return TypedResults.Ok(latest);
    }
}

/// <summary>Reads the job document and status code out of an endpoint's (possibly union-typed) result.</summary>
internal static class JobResults
{
    public static (JobResponse? Job, int Status) Read(object? result)
    {
        while (result is INestedHttpResult nested)
            result = nested.Result;
        return result is IValueHttpResult { Value: JobResponse job } and IStatusCodeHttpResult { StatusCode: { } status } and not ProblemHttpResult
            && status is >= 200 and < 300
            ? (job, status)
            : (null, 0);
    }
}
