using System.Net;
using System.Text.Json;
using Easel.Core.Jobs;
using Easel.Testing;
using Microsoft.EntityFrameworkCore;

namespace Easel.Api.Tests;

public abstract class JobCancelTests<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : EaselApiFactory
{
    private Task<HttpResponseMessage> CancelAsync(Guid id) => Client.PostAsync($"/v1/jobs/{id}/cancel", null);

    private async Task<Job> StoreJobAsync(JobStatus status, string? owner = null)
    {
        var now = DateTimeOffset.UtcNow;
        now = now.AddTicks(-(now.Ticks % TimeSpan.TicksPerMillisecond));
        var job = Job.Create(JobKind.Generation, new { prompt = "x", model = "sd15" }, now, owner);
        job.Status = status;
        if (status != JobStatus.Queued)
            job.StartedAt = now;
        if (status is JobStatus.Succeeded or JobStatus.Failed or JobStatus.Canceled)
            job.FinishedAt = now;
        await Factory.WithDbAsync(async db =>
        {
            db.Jobs.Add(job);
            return await db.SaveChangesAsync();
        });
        return job;
    }

    [Fact]
    public async Task Canceling_a_queued_job_cancels_it_at_once_with_an_event()
    {
        var posted = await ReadJsonAsync(await PostGenerationAsync(ValidRequest()));
        var id = posted.GetProperty("id").GetGuid();

        var response = await CancelAsync(id);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var job = await ReadJsonAsync(response);
        Assert.Equal("canceled", job.GetProperty("status").GetString());
        Assert.NotEqual(JsonValueKind.Null, job.GetProperty("finished_at").ValueKind);
        Assert.Equal(JsonValueKind.Null, job.GetProperty("queue_position").ValueKind);
        var row = await Factory.WithDbAsync(db => db.Jobs.AsNoTracking().SingleAsync(j => j.Id == id));
        Assert.Equal(JobStatus.Canceled, row.Status);
        Assert.NotNull(row.FinishedAt);
        var events = await Factory.WithDbAsync(db => db.JobEvents.Where(e => e.JobId == id).OrderBy(e => e.Id).Select(e => e.Type).ToListAsync());
        Assert.Equal([JobEventType.Queued, JobEventType.Canceled], events);
    }

    [Fact]
    public async Task Canceling_a_queued_job_with_a_webhook_writes_the_completion_delivery()
    {
        var body = ValidRequest();
        body["webhook"] = "http://receiver.example/hook";
        var id = (await ReadJsonAsync(await PostGenerationAsync(body))).GetProperty("id").GetGuid();

        await CancelAsync(id);

        var delivery = await Factory.WithDbAsync(db => db.WebhookDeliveries.AsNoTracking().SingleAsync(d => d.JobId == id));
        Assert.Equal(WebhookEventTypes.Completed, delivery.EventType);
        Assert.Equal("canceled", JsonDocument.Parse(delivery.Payload).RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Canceling_a_running_job_requests_the_stop_and_answers_202_also_when_repeated()
    {
        var job = await StoreJobAsync(JobStatus.Running);

        var first = await CancelAsync(job.Id);
        var second = await CancelAsync(job.Id);

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        var requestedAt = (await ReadJsonAsync(first)).GetProperty("cancel_requested_at").GetDateTimeOffset();
        var again = await ReadJsonAsync(second);
        Assert.Equal(requestedAt, again.GetProperty("cancel_requested_at").GetDateTimeOffset());
        Assert.Equal("running", again.GetProperty("status").GetString());
        var row = await Factory.WithDbAsync(db => db.Jobs.AsNoTracking().SingleAsync(j => j.Id == job.Id));
        Assert.Equal(JobStatus.Running, row.Status);
        Assert.Equal(requestedAt, row.CancelRequestedAt);
        Assert.Equal(job.Version, row.Version); // the worker's claim (its concurrency token) is left alone
    }

    [Theory]
    [InlineData(JobStatus.Succeeded)]
    [InlineData(JobStatus.Failed)]
    [InlineData(JobStatus.Canceled)]
    public async Task Canceling_a_finished_job_is_a_409_problem_and_changes_nothing(JobStatus status)
    {
        var job = await StoreJobAsync(status);

        var response = await CancelAsync(job.Id);

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var row = await Factory.WithDbAsync(db => db.Jobs.AsNoTracking().SingleAsync(j => j.Id == job.Id));
        Assert.Equal(status, row.Status);
        Assert.Null(row.CancelRequestedAt);
    }

    [Fact]
    public async Task Canceling_an_unknown_job_or_another_keys_job_is_a_404_problem()
    {
        var others = await StoreJobAsync(JobStatus.Queued, owner: "another-key");

        var unknown = await CancelAsync(Guid.NewGuid());
        var foreign = await CancelAsync(others.Id);

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        Assert.Equal("application/problem+json", foreign.Content.Headers.ContentType?.MediaType);
        Assert.Equal(JobStatus.Queued, (await Factory.WithDbAsync(db => db.Jobs.AsNoTracking().SingleAsync(j => j.Id == others.Id))).Status);
    }
}

public sealed class JobCancelTestsOnSqlite(SqliteApiFactory factory) : JobCancelTests<SqliteApiFactory>(factory);

public sealed class JobCancelTestsOnPostgres(PostgresApiFactory factory) : JobCancelTests<PostgresApiFactory>(factory);
