using System.Globalization;
using System.Text;
using Easel.Api.Auth;
using Easel.Core.Data;
using Easel.Core.Jobs;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Primitives;

namespace Easel.Api.Apis;

/// <summary>GET /v1/jobs/{id}/events: the job's history and live changes as Server-Sent Events.</summary>
public static class JobEventsApi
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan KeepAliveInterval = TimeSpan.FromSeconds(15);

    public static IEndpointRouteBuilder MapJobEventEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGroup("v1/jobs").WithTags("Jobs")
            .MapGet("{id:guid}/events", StreamEvents)
            .WithName("StreamJobEvents")
            .WithSummary("Stream a job's events (Server-Sent Events)")
            .WithDescription("text/event-stream of the job's events in order: queued, started, progress ({ id, status, step, "
                + "total }), preview ({ step, total, width, height, image: a data:image/png;base64 URL of a small latent "
                + "preview }) and the final succeeded, failed or canceled (the job document). Each event carries `id:` "
                + "(increasing), `event:` (its type) and `data:` (JSON). History is replayed first, then new events follow "
                + "until the final one, after which the stream ends. Resume after a disconnect with the Last-Event-ID header "
                + "(or ?last_event_id=): only later events are sent. A comment line keeps idle connections alive every 15 s.")
            .Produces<string>(StatusCodes.Status200OK, "text/event-stream")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    public static async Task<Results<EmptyHttpResult, ProblemHttpResult>> StreamEvents(
        Guid id, HttpContext http, EaselDbContext db, TimeProvider time, CancellationToken cancellationToken)
    {
        var owner = http.GetOwner();
        if (!await db.Jobs.AnyAsync(j => j.Id == id && j.Owner == owner, cancellationToken))
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Job not found", detail: $"No job has id {id}.");
        if (!TryReadLastEventId(http.Request, out var after))
            return TypedResults.Problem(new HttpValidationProblemDetails(new Dictionary<string, string[]>
            {
                ["last_event_id"] = ["Last-Event-ID must be the integer id of an event of this stream."],
            }) { Status = StatusCodes.Status400BadRequest, Title = "The event stream request is invalid." });

        var response = http.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no"; // reverse proxies must not buffer the stream
        http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>()?.DisableBuffering();
        await response.Body.FlushAsync(cancellationToken);

        var lastWrite = time.GetTimestamp();
        try
        {
            while (true)
            {
                // Read before the events: a final status seen here has its final event committed with it (same
                // transaction), so an empty read below means that event was sent before (a resume past it).
                var wasFinished = await db.Jobs.AnyAsync(j => j.Id == id && (j.Status == JobStatus.Succeeded
                    || j.Status == JobStatus.Failed || j.Status == JobStatus.Canceled), cancellationToken);
                var events = await db.JobEvents.AsNoTracking()
                    .Where(e => e.JobId == id && e.Id > after)
                    .OrderBy(e => e.Id)
                    .Take(500)
                    .ToListAsync(cancellationToken);
                var finished = false;
                if (events.Count > 0)
                {
                    var text = new StringBuilder();
                    foreach (var e in events)
                    {
                        Write(text, e);
                        after = e.Id;
                        finished |= e.Type is JobEventType.Succeeded or JobEventType.Failed or JobEventType.Canceled;
                    }
                    await response.WriteAsync(text.ToString(), cancellationToken);
                    await response.Body.FlushAsync(cancellationToken);
                    lastWrite = time.GetTimestamp();
                }
                if (finished || (events.Count == 0 && wasFinished))
                    return TypedResults.Empty;
                if (events.Count == 500)
                    continue; // more history to replay
                if (time.GetElapsedTime(lastWrite) >= KeepAliveInterval)
                {
                    await response.WriteAsync(": keep-alive\n\n", cancellationToken);
                    await response.Body.FlushAsync(cancellationToken);
                    lastWrite = time.GetTimestamp();
                }
                await Task.Delay(PollInterval, time, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return TypedResults.Empty; // the client went away
        }
    }

    /// <summary>One SSE event; data is single-line JSON, so one data line suffices.</summary>
    private static void Write(StringBuilder text, JobEvent e) => text
        .Append("id: ").Append(e.Id.ToString(CultureInfo.InvariantCulture)).Append('\n')
        .Append("event: ").Append(EventName(e.Type)).Append('\n')
        .Append("data: ").Append(e.Data.ReplaceLineEndings(" ")).Append("\n\n");

    public static string EventName(JobEventType type) => type.ToString().ToLowerInvariant();

    /// <summary>The Last-Event-ID header wins over ?last_event_id=; none means from the start (0).</summary>
    private static bool TryReadLastEventId(HttpRequest request, out long after)
    {
        after = 0;
        StringValues value = request.Headers["Last-Event-ID"];
        if (StringValues.IsNullOrEmpty(value))
            value = request.Query["last_event_id"];
        if (StringValues.IsNullOrEmpty(value))
            return true;
        return long.TryParse(value.ToString().Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out after);
    }
}
