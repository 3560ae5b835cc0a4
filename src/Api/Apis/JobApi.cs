using Easel.Api.Auth;
using Easel.Core.Jobs;
using Easel.Core.Data;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Easel.Api.Apis;

public static class JobApi
{
    public static string PathOf(Guid id) => ResourcePaths.Job(id);

    public static IEndpointRouteBuilder MapJobEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("v1/jobs").WithTags("Jobs");

        api.MapGet("{id:guid}", GetJob)
            .WithName("GetJob")
            .WithSummary("Get a job")
            .WithDescription("Status (queued, running, succeeded, failed, canceled), timestamps, progress (step/total), "
                + "the error of a failed job and the URLs of its images.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        return app;
    }

    public static async Task<Results<Ok<JobResponse>, ProblemHttpResult>> GetJob(
        Guid id, EaselDbContext db, HttpContext http, CancellationToken cancellationToken)
    {
        // Another key's job is not found, exactly like an unknown id: ids of other tenants are not confirmed.
        var owner = http.GetOwner();
        var job = await db.Jobs.AsNoTracking().Include(j => j.Images).SingleOrDefaultAsync(j => j.Id == id && j.Owner == owner, cancellationToken);
        return job is null
            ? TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Job not found", detail: $"No job has id {id}.")
            : TypedResults.Ok(JobResponse.From(job));
    }
}
