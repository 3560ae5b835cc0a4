using System.Buffers.Binary;
using Easel.Api.Auth;
using Easel.Api.Extensions;
using Easel.Core;
using Easel.Core.Artifacts;
using Easel.Core.Data;
using Easel.Core.Jobs;
using Easel.Core.Models;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Easel.Api.Apis;

public static class JobApi
{
    public const int DefaultPageSize = 20;
    public const int MaxPageSize = 100;

    public static string PathOf(Guid id) => ResourcePaths.Job(id);

    public static IEndpointRouteBuilder MapJobEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("v1/jobs").WithTags("Jobs");

        api.MapGet("", ListJobs)
            .WithName("ListJobs")
            .WithSummary("List jobs, newest first")
            .WithDescription("The caller's jobs, newest first (created_at, then id). `status` and `kind` filter (comma-separated "
                + "values allowed, e.g. `status=queued,running`); `limit` is 1–100 (default 20). `next_cursor` is an opaque "
                + "token: pass it as `cursor` for the next page; it is null on the last page. Pages never repeat or skip a job, "
                + "also while new jobs arrive. A bad `status`, `kind`, `cursor` or `limit` answers 400 naming the field.")
            .ProducesValidationProblem();

        api.MapGet("{id:guid}", GetJob)
            .WithName("GetJob")
            .WithSummary("Get a job")
            .WithDescription("Status (queued, running, succeeded, failed, canceled), timestamps, progress (step/total), the error "
                + "of a failed job and the URLs of its images. While the job is queued, `queue_position` (1 = next) and `eta` "
                + "(estimated finish: " + EtaDescription + ") are set; otherwise they are null. "
                + PreferWait.Description)
            .WithPreferWait()
            .ProducesProblem(StatusCodes.Status404NotFound);

        api.MapPost("{id:guid}/cancel", CancelJob)
            .WithName("CancelJob")
            .WithSummary("Cancel a job")
            .WithDescription("A queued job is canceled at once and never runs: 200 with the canceled job. A running job is asked "
                + "to stop (`cancel_requested_at` is set; the worker stops between denoising steps and marks it canceled): 202 "
                + "with the job; asking again answers 202 again. A job that already finished answers 409; an unknown job, or "
                + "another API key's, 404.")
            .WithIdempotencyKey()
            .Produces<JobResponse>(StatusCodes.Status200OK)
            .Produces<JobResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);

        return app;
    }

    internal const string EtaDescription = "now + (remaining time of the running jobs + jobs ahead × mean run time) / max(1, "
        + "running jobs) + the job's own mean run time; mean run times over the last 20 succeeded jobs of the kind (of the "
        + "model for the job itself, when there is such history); null while no job of the kind has succeeded";

    public static async Task<Results<Ok<JobResponse>, ProblemHttpResult>> GetJob(
        Guid id, HttpContext http, EaselDbContext db, IModelCatalog catalog, TimeProvider time, CancellationToken cancellationToken)
    {
        var job = await LoadAsync(db, catalog, id, http.GetOwner(), time, cancellationToken);
        return job is null ? NotFound(id) : TypedResults.Ok(job);
    }

    public static async Task<Results<Ok<JobListResponse>, ProblemHttpResult>> ListJobs(
        string? status, string? kind, string? cursor, string? limit,
        HttpContext http, EaselDbContext db, IModelCatalog catalog, TimeProvider time, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var statuses = ParseNames<JobStatus>(status, "status", errors);
        var kinds = ParseNames<JobKind>(kind, "kind", errors);
        var size = ParseLimit(limit, errors);
        var after = default(JobCursor);
        if (cursor is not null && !JobCursor.TryDecode(cursor, out after))
            errors["cursor"] = ["cursor is not a value this service returned as next_cursor."];
        if (errors.Count > 0)
            return TypedResults.Problem(new HttpValidationProblemDetails(errors) { Status = 400, Title = "The job list query is invalid." });

        var owner = http.GetOwner();
        var query = db.Jobs.AsNoTracking().Where(j => j.Owner == owner);
        if (statuses is not null)
            query = query.Where(j => statuses.Contains(j.Status));
        if (kinds is not null)
            query = query.Where(j => kinds.Contains(j.Kind));
        if (cursor is not null)
        {
            var (createdAt, id) = (after.CreatedAt, after.Id);
            query = query.Where(j => j.CreatedAt < createdAt || (j.CreatedAt == createdAt && j.Id.CompareTo(id) < 0));
        }
        var page = await query
            .OrderByDescending(j => j.CreatedAt).ThenByDescending(j => j.Id)
            .Take(size + 1)
            .Include(j => j.Images)
            .AsSplitQuery()
            .ToListAsync(cancellationToken);
        var more = page.Count > size;
        if (more)
            page.RemoveAt(size);
        await JobArtifacts.FillAsync(db, page, cancellationToken);
        await catalog.RefreshAsync(cancellationToken);
        var queue = await JobQueue.DescribeAsync(db, page, time.GetUtcNowMilliseconds(), cancellationToken, catalog);
        return TypedResults.Ok(new JobListResponse(
            [.. page.Select(j => JobResponse.From(j, queue.GetValueOrDefault(j.Id)))],
            more ? new JobCursor(page[^1].CreatedAt, page[^1].Id).Encode() : null));
    }

    public static async Task<Results<Ok<JobResponse>, Accepted<JobResponse>, ProblemHttpResult>> CancelJob(
        Guid id, HttpContext http, EaselDbContext db, TimeProvider time, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var logger = loggers.CreateLogger(typeof(JobApi).FullName!);
        var owner = http.GetOwner();
        // A worker may claim or finish the job between our read and our write; then read it again and decide anew.
        for (var attempt = 0; ; attempt++)
        {
            var job = await db.Jobs.Include(j => j.Images).SingleOrDefaultAsync(j => j.Id == id && j.Owner == owner, cancellationToken);
            if (job is null)
                return NotFound(id);
            var now = time.GetUtcNowMilliseconds();
            switch (job.Status)
            {
                case JobStatus.Queued:
                    job.Status = JobStatus.Canceled;
                    job.FinishedAt = now;
                    job.CancelRequestedAt ??= now;
                    job.Version = Guid.NewGuid();
                    JobEventLog.Append(db, job, JobEventType.Canceled, now);
                    try
                    {
                        await db.SaveChangesAsync(cancellationToken);
                    }
                    catch (DbUpdateConcurrencyException) when (attempt < 5)
                    {
                        db.ChangeTracker.Clear();
                        continue;
                    }
                    logger.LogInformation("Job {JobId} canceled while queued", id);
                    return TypedResults.Ok(JobResponse.From(job));

                case JobStatus.Running:
                    if (job.CancelRequestedAt is null)
                    {
                        // Only this column: the worker keeps its claim (and its concurrency token) and sees the request between steps.
                        var updated = await db.Jobs
                            .Where(j => j.Id == id && j.Status == JobStatus.Running && j.CancelRequestedAt == null)
                            .ExecuteUpdateAsync(s => s.SetProperty(j => j.CancelRequestedAt, now), cancellationToken);
                        if (updated == 0 && attempt < 5)
                        {
                            db.ChangeTracker.Clear();
                            continue;
                        }
                        job.CancelRequestedAt = now;
                        logger.LogInformation("Cancellation of running job {JobId} requested", id);
                    }
                    return TypedResults.Accepted(PathOf(id), JobResponse.From(job));

                default:
                    return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "The job has already finished.",
                        detail: $"Job {id} is {job.Status.ToString().ToLowerInvariant()}; only a queued or running job can be canceled.");
            }
        }
    }

    /// <summary>The job document of the caller's job with its queue position and ETA, or null.</summary>
    internal static async Task<JobResponse?> LoadAsync(EaselDbContext db, IModelCatalog catalog, Guid id, string? owner, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var job = await db.Jobs.AsNoTracking().Include(j => j.Images).SingleOrDefaultAsync(j => j.Id == id && j.Owner == owner, cancellationToken);
        if (job is null)
            return null;
        await JobArtifacts.FillAsync(db, [job], cancellationToken);
        if (job.Status == JobStatus.Queued)
            await catalog.RefreshAsync(cancellationToken);
        var queue = await JobQueue.DescribeAsync(db, job, time.GetUtcNowMilliseconds(), cancellationToken, catalog);
        return JobResponse.From(job, queue);
    }

    private static ProblemHttpResult NotFound(Guid id) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Job not found", detail: $"No job has id {id}.");

    /// <summary>The page size a list query asks for: 1–<see cref="MaxPageSize"/>, <see cref="DefaultPageSize"/> when absent.</summary>
    internal static int ParseLimit(string? limit, Dictionary<string, string[]> errors)
    {
        var size = DefaultPageSize;
        if (limit is not null && (!int.TryParse(limit, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out size)
                                  || size is < 1 or > MaxPageSize))
            errors["limit"] = [$"limit must be a whole number from 1 to {MaxPageSize}."];
        return size;
    }

    /// <summary>Comma-separated snake_case enum names; null when the parameter is absent.</summary>
    internal static List<TEnum>? ParseNames<TEnum>(string? text, string field, Dictionary<string, string[]> errors) where TEnum : struct, Enum
    {
        if (text is null)
            return null;
        var names = Enum.GetValues<TEnum>().ToDictionary(v => System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(v.ToString()), v => v, StringComparer.OrdinalIgnoreCase);
        var values = new List<TEnum>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (names.TryGetValue(part, out var value))
                values.Add(value);
            else
            {
                errors[field] = [$"Unknown {field} '{part}'; use one of {string.Join(", ", names.Keys)}."];
                return null;
            }
        }
        return values;
    }
}

/// <summary>A page of jobs; <c>next_cursor</c> is null on the last page.</summary>
public sealed record JobListResponse(IReadOnlyList<JobResponse> Data, string? NextCursor);

/// <summary>The position after the last job of a page: its (created_at, id), encoded as opaque base64url.</summary>
public readonly record struct JobCursor(DateTimeOffset CreatedAt, Guid Id)
{
    private const byte FormatVersion = 1;

    public string Encode()
    {
        Span<byte> bytes = stackalloc byte[25];
        bytes[0] = FormatVersion;
        BinaryPrimitives.WriteInt64BigEndian(bytes[1..], CreatedAt.UtcTicks);
        Id.TryWriteBytes(bytes[9..], bigEndian: true, out _);
        return Microsoft.AspNetCore.WebUtilities.Base64UrlTextEncoder.Encode(bytes.ToArray());
    }

    public static bool TryDecode(string text, out JobCursor cursor)
    {
        cursor = default;
        byte[] bytes;
        try
        {
            bytes = Microsoft.AspNetCore.WebUtilities.Base64UrlTextEncoder.Decode(text);
        }
        catch (FormatException)
        {
            return false;
        }
        if (bytes.Length != 25 || bytes[0] != FormatVersion)
            return false;
        var ticks = BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(1));
        if (ticks < DateTimeOffset.MinValue.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks)
            return false;
        cursor = new JobCursor(new DateTimeOffset(ticks, TimeSpan.Zero), new Guid(bytes.AsSpan(9), bigEndian: true));
        return true;
    }
}
