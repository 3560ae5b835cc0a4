using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Easel.Core.Jobs;
using Easel.Testing;
using Microsoft.EntityFrameworkCore;

namespace Easel.Api.Tests;

public abstract class JobListTests<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : EaselApiFactory
{
    /// <summary>Stores jobs directly (status, time and owner chosen by the test), as workers and other keys would leave them.</summary>
    private async Task<List<Job>> StoreJobsAsync(int count, JobStatus status, DateTimeOffset? sameCreatedAt = null, string? owner = null)
    {
        var jobs = new List<Job>();
        var start = DateTimeOffset.UtcNow.AddMinutes(-10);
        for (var i = 0; i < count; i++)
        {
            var created = sameCreatedAt ?? start.AddMilliseconds(Random.Shared.Next(0, 500_000));
            created = created.AddTicks(-(created.Ticks % TimeSpan.TicksPerMillisecond));
            var job = Job.Create(JobKind.Generation, new { prompt = "x", model = "sd15" }, created, owner);
            job.Status = status;
            if (status is JobStatus.Succeeded or JobStatus.Failed or JobStatus.Canceled)
                (job.StartedAt, job.FinishedAt) = (created.AddSeconds(1), created.AddSeconds(2));
            jobs.Add(job);
        }
        await Factory.WithDbAsync(async db =>
        {
            db.Jobs.AddRange(jobs);
            return await db.SaveChangesAsync();
        });
        return jobs;
    }

    private async Task<List<JsonElement>> ReadAllPagesAsync(string query, int limit, string? cursor = null)
    {
        var all = new List<JsonElement>();
        do
        {
            var url = $"/v1/jobs?limit={limit}{query}" + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}");
            var response = await Client.GetAsync(url);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var page = await ReadJsonAsync(response);
            var data = page.GetProperty("data").EnumerateArray().ToList();
            Assert.True(data.Count <= limit);
            all.AddRange(data);
            cursor = page.GetProperty("next_cursor").GetString();
            if (cursor is not null)
                Assert.Equal(limit, data.Count);
        }
        while (cursor is not null);
        return all;
    }

    [Fact]
    public async Task Pages_walk_every_job_newest_first_without_duplicates_or_omissions()
    {
        await StoreJobsAsync(17, JobStatus.Succeeded);
        // Same created_at: only the id breaks the tie, and a page boundary may fall among them.
        await StoreJobsAsync(6, JobStatus.Queued, sameCreatedAt: DateTimeOffset.UtcNow.AddMinutes(-5));
        await PostGenerationAsync(ValidRequest());
        await StoreJobsAsync(3, JobStatus.Succeeded, owner: "another-key");

        var listed = await ReadAllPagesAsync("", limit: 4);

        var expected = await Factory.WithDbAsync(db => db.Jobs.Where(j => j.Owner == null).Select(j => j.Id).ToListAsync());
        var ids = listed.Select(j => j.GetProperty("id").GetGuid()).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.Equal(expected.Order(), ids.Order());
        var created = listed.Select(j => j.GetProperty("created_at").GetDateTimeOffset()).ToList();
        Assert.Equal(created.OrderDescending(), created);
    }

    [Fact]
    public async Task A_job_created_while_paging_neither_shifts_nor_repeats_later_pages()
    {
        await StoreJobsAsync(6, JobStatus.Failed);
        var first = await ReadJsonAsync(await Client.GetAsync("/v1/jobs?limit=3"));
        var cursor = first.GetProperty("next_cursor").GetString()!;

        var posted = await ReadJsonAsync(await PostGenerationAsync(ValidRequest()));
        var rest = await ReadAllPagesAsync("", limit: 3, cursor);

        var firstIds = first.GetProperty("data").EnumerateArray().Select(j => j.GetProperty("id").GetGuid()).ToList();
        var restIds = rest.Select(j => j.GetProperty("id").GetGuid()).ToList();
        Assert.Empty(firstIds.Intersect(restIds));
        Assert.DoesNotContain(posted.GetProperty("id").GetGuid(), restIds);
        var total = await Factory.WithDbAsync(db => db.Jobs.CountAsync(j => j.Owner == null));
        Assert.Equal(total - 1, firstIds.Count + restIds.Count);
    }

    [Fact]
    public async Task Status_and_kind_filters_return_only_matching_jobs()
    {
        var canceled = await StoreJobsAsync(3, JobStatus.Canceled);
        var running = await StoreJobsAsync(2, JobStatus.Running);
        await StoreJobsAsync(2, JobStatus.Canceled, owner: "another-key");

        var onlyCanceled = await ReadAllPagesAsync("&status=canceled&kind=generation", limit: 100);
        var canceledOrRunning = await ReadAllPagesAsync("&status=canceled,running", limit: 2);

        Assert.All(onlyCanceled, j => Assert.Equal("canceled", j.GetProperty("status").GetString()));
        var expectedCanceled = await Factory.WithDbAsync(db => db.Jobs.CountAsync(j => j.Owner == null && j.Status == JobStatus.Canceled));
        Assert.Equal(expectedCanceled, onlyCanceled.Count);
        Assert.Superset(canceled.Select(j => j.Id).ToHashSet(), onlyCanceled.Select(j => j.GetProperty("id").GetGuid()).ToHashSet());
        Assert.All(canceledOrRunning, j => Assert.Contains(j.GetProperty("status").GetString(), new[] { "canceled", "running" }));
        Assert.Superset(canceled.Concat(running).Select(j => j.Id).ToHashSet(), canceledOrRunning.Select(j => j.GetProperty("id").GetGuid()).ToHashSet());
    }

    [Theory]
    [InlineData("status=done", "status")]
    [InlineData("kind=painting", "kind")]
    [InlineData("cursor=not-a-cursor", "cursor")]
    [InlineData("cursor=AAAA", "cursor")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=101", "limit")]
    [InlineData("limit=ten", "limit")]
    public async Task Bad_query_parameter_is_a_400_naming_it(string query, string field)
    {
        var response = await Client.GetAsync($"/v1/jobs?{query}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await ReadJsonAsync(response);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task Default_page_holds_twenty_jobs_with_the_job_fields()
    {
        await StoreJobsAsync(21, JobStatus.Succeeded);

        var page = await Client.GetFromJsonAsync<JsonElement>("/v1/jobs");

        var data = page.GetProperty("data");
        Assert.Equal(20, data.GetArrayLength());
        Assert.NotNull(page.GetProperty("next_cursor").GetString());
        var job = data[0];
        foreach (var field in new[] { "priority", "cancel_after", "webhook", "webhook_events", "queue_position", "eta", "images", "request" })
            Assert.True(job.TryGetProperty(field, out _), field);
    }
}

public sealed class JobListTestsOnSqlite(SqliteApiFactory factory) : JobListTests<SqliteApiFactory>(factory);

public sealed class JobListTestsOnPostgres(PostgresApiFactory factory) : JobListTests<PostgresApiFactory>(factory);
