using System.Net.Http.Json;
using System.Text.Json;
using Easel.Core.Jobs;
using Easel.Testing;

namespace Easel.Api.Tests;

/// <summary>Queue position and ETA; one test per fixture, because the whole queue of the database is the subject.</summary>
public abstract class JobQueueTests<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : EaselApiFactory
{
    private async Task<Guid> PostAsync(int priority)
    {
        var body = ValidRequest();
        body["priority"] = priority;
        var job = await ReadJsonAsync(await PostGenerationAsync(body));
        await Task.Delay(5); // distinct created_at, so that age orders jobs of one priority
        return job.GetProperty("id").GetGuid();
    }

    private async Task<JsonElement> GetAsync(Guid id) => await Client.GetFromJsonAsync<JsonElement>($"/v1/jobs/{id}");

    [Fact]
    public async Task Queued_jobs_show_their_position_by_priority_then_age_and_an_eta_from_recent_run_times()
    {
        var oldLow = await PostAsync(0);
        var high = await PostAsync(5);
        var newLow = await PostAsync(0);

        Assert.Equal(2, (await GetAsync(oldLow)).GetProperty("queue_position").GetInt32());
        Assert.Equal(1, (await GetAsync(high)).GetProperty("queue_position").GetInt32());
        var third = await GetAsync(newLow);
        Assert.Equal(3, third.GetProperty("queue_position").GetInt32());
        Assert.Equal(JsonValueKind.Null, third.GetProperty("eta").ValueKind); // no history yet, and no worker
        Assert.Contains("no live worker serves it", third.GetProperty("waiting_for").GetString());
        await WorkerRows.RegisterLiveAsync(Factory, $"queue-test-{Guid.NewGuid():N}", "sd15");
        Assert.Equal(JsonValueKind.Null, (await GetAsync(newLow)).GetProperty("waiting_for").ValueKind);

        // History: two succeeded generations of 10 s and 20 s (mean 15 s); nothing running.
        var now = DateTimeOffset.UtcNow;
        now = now.AddTicks(-(now.Ticks % TimeSpan.TicksPerMillisecond));
        await Factory.WithDbAsync(async db =>
        {
            foreach (var seconds in new[] { 10, 20 })
            {
                var done = Job.Create(JobKind.Generation, new { prompt = "x", model = "sd15" }, now.AddMinutes(-5), owner: "another-key");
                done.Status = JobStatus.Succeeded;
                done.StartedAt = now.AddMinutes(-2);
                done.FinishedAt = done.StartedAt.Value.AddSeconds(seconds);
                db.Jobs.Add(done);
            }
            return await db.SaveChangesAsync();
        });

        var before = DateTimeOffset.UtcNow;
        third = await GetAsync(newLow);
        var after = DateTimeOffset.UtcNow;
        // Two jobs ahead at 15 s each, then its own 15 s.
        var eta = third.GetProperty("eta").GetDateTimeOffset();
        Assert.InRange(eta, before.AddSeconds(45).AddMilliseconds(-5), after.AddSeconds(45).AddMilliseconds(5));

        var list = await Client.GetFromJsonAsync<JsonElement>("/v1/jobs?status=queued");
        var positions = list.GetProperty("data").EnumerateArray()
            .ToDictionary(j => j.GetProperty("id").GetGuid(), j => j.GetProperty("queue_position").GetInt32());
        Assert.Equal(new Dictionary<Guid, int> { [high] = 1, [oldLow] = 2, [newLow] = 3 }, positions);

        await Client.PostAsync($"/v1/jobs/{high}/cancel", null);
        Assert.Equal(1, (await GetAsync(oldLow)).GetProperty("queue_position").GetInt32());
        var canceled = await GetAsync(high);
        Assert.Equal(JsonValueKind.Null, canceled.GetProperty("queue_position").ValueKind);
        Assert.Equal(JsonValueKind.Null, canceled.GetProperty("eta").ValueKind);
    }
}

public sealed class JobQueueTestsOnSqlite(SqliteApiFactory factory) : JobQueueTests<SqliteApiFactory>(factory);

public sealed class JobQueueTestsOnPostgres(PostgresApiFactory factory) : JobQueueTests<PostgresApiFactory>(factory);
