using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text;
using System.Text.Json.Nodes;
using Easel.Core.Jobs;
using Easel.Testing;
using Microsoft.EntityFrameworkCore;

namespace Easel.EndToEnd.Tests;

/// <summary>Job API behaviour that needs jobs to run: the real worker and pipeline on the tiny fixture model.</summary>
public abstract class JobRunTests<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : EaselApiFactory
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(3);

    private Task<HttpResponseMessage> PostAsync(JsonNode body, string? prefer = null)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, "/v1/generations")
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        if (prefer is not null)
            message.Headers.TryAddWithoutValidation("Prefer", prefer);
        return Client.SendAsync(message);
    }

    [Fact]
    public async Task Post_with_a_wait_returns_the_finished_job_with_its_images()
    {
        var body = ValidRequest();
        body["steps"] = 2;

        var response = await PostAsync(body, "wait=60");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("wait=60", response.Headers.GetValues("Preference-Applied").Single());
        var job = await ReadJsonAsync(response);
        Assert.Equal("succeeded", job.GetProperty("status").GetString());
        Assert.Equal(1, job.GetProperty("images").GetArrayLength());
        Assert.Equal($"/v1/jobs/{job.GetProperty("id").GetGuid()}", response.Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task Get_with_a_wait_returns_once_the_job_has_finished()
    {
        var body = ValidRequest();
        body["steps"] = 2;
        var location = (await PostAsync(body)).Headers.Location!.OriginalString;
        var message = new HttpRequestMessage(HttpMethod.Get, location);
        message.Headers.TryAddWithoutValidation("Prefer", "wait=60");

        var response = await Client.SendAsync(message);

        Assert.Equal("succeeded", (await ReadJsonAsync(response)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Job_canceled_while_queued_never_runs()
    {
        // A long job keeps the only worker busy while the second one waits in the queue.
        var blocker = ValidRequest();
        blocker["steps"] = 25;
        var blockerLocation = (await PostAsync(blocker)).Headers.Location!.OriginalString;
        var queued = await ReadJsonAsync(await PostAsync(ValidRequest()));
        var id = queued.GetProperty("id").GetGuid();

        var cancel = await Client.PostAsync($"/v1/jobs/{id}/cancel", null);

        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        Assert.Equal("succeeded", (await JobPolling.UntilFinishedAsync(Client, blockerLocation, Deadline)).GetProperty("status").GetString());
        await Task.Delay(TimeSpan.FromSeconds(2)); // the worker has taken the canceled job's queue entry by now and let it go
        var row = await Factory.WithDbAsync(db => db.Jobs.AsNoTracking().SingleAsync(j => j.Id == id));
        Assert.Equal((JobStatus.Canceled, 0, null), (row.Status, row.Attempts, row.StartedAt));
        var events = await Factory.WithDbAsync(db => db.JobEvents.Where(e => e.JobId == id).Select(e => e.Type).ToListAsync());
        Assert.DoesNotContain(JobEventType.Started, events);
        Assert.Empty(await Factory.WithDbAsync(db => db.Images.Where(i => i.JobId == id).ToListAsync()));
    }
}

public sealed class JobRunTestsOnSqlite(SqliteServiceFactory factory) : JobRunTests<SqliteServiceFactory>(factory);

public sealed class JobRunTestsOnPostgres(PostgresServiceFactory factory) : JobRunTests<PostgresServiceFactory>(factory);
