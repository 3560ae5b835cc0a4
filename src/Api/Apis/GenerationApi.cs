using Easel.Core;
using Easel.Core.Data;
using Easel.Core.Generation;
using Easel.Core.Jobs;
using Easel.Core.Telemetry;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Easel.Api.Apis;

public static class GenerationApi
{
    public static IEndpointRouteBuilder MapGenerationEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("v1/generations").WithTags("Generations");

        api.MapPost("", CreateGeneration)
            .WithName("CreateGeneration")
            .WithSummary("Submit a text-to-image generation")
            .WithDescription("Validates the request, records a queued job and enqueues it. Answers 202 with the job and its "
                + "Location; poll GET /v1/jobs/{id} until the status is succeeded, failed or canceled. An invalid request "
                + "answers 400 application/problem+json whose `errors` names each bad field; nothing is enqueued then.")
            .Accepts<GenerationRequest>("application/json")
            .ProducesValidationProblem();

        return app;
    }

    public static async Task<Results<Accepted<JobResponse>, ValidationProblem>> CreateGeneration(
        GenerationRequest request,
        [AsParameters] GenerationServices services,
        CancellationToken cancellationToken)
    {
        var validation = services.Validator.Validate(request);
        if (!validation.IsValid)
        {
            services.Metrics.RequestRejected(JobKind.Generation);
            return TypedResults.ValidationProblem(validation.Errors, title: "The generation request is invalid.");
        }

        var job = Job.Create(JobKind.Generation, validation.Parameters!, services.Time.GetUtcNowMilliseconds());
        services.Db.Jobs.Add(job);
        await services.Db.SaveChangesAsync(cancellationToken);
        // The row is committed before the queue hears of it: a worker never picks up an id it cannot find.
        string queued;
        try
        {
            queued = services.Dispatcher.Dispatch(job);
        }
        catch
        {
            // Not accepted after all: leave no queued row that nothing will run (the client sees a 500 and may retry).
            services.Db.Jobs.Remove(job);
            await services.Db.SaveChangesAsync(CancellationToken.None);
            throw;
        }
        services.Metrics.JobSubmitted(job.Kind);
        services.Logger.LogInformation("Job {JobId} ({Kind}, model {Model}) queued as Hangfire job {HangfireJobId}",
            job.Id, job.Kind, validation.Parameters!.Model, queued);
        return TypedResults.Accepted(JobApi.PathOf(job.Id), JobResponse.From(job));
    }
}

public sealed record GenerationServices(
    EaselDbContext Db,
    GenerationRequestValidator Validator,
    IJobDispatcher Dispatcher,
    EaselMetrics Metrics,
    TimeProvider Time,
    ILogger<GenerationServices> Logger);
