using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Easel.Core.Jobs;
using Easel.Testing;

namespace Easel.Api.Tests;

/// <summary><c>Prefer: wait</c> against a service without a worker: nothing finishes, so a wait lasts its full length.</summary>
public abstract class PreferWaitTests<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : EaselApiFactory
{
    private Task<HttpResponseMessage> PostAsync(JsonNode body, string prefer)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, "/v1/generations")
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        message.Headers.TryAddWithoutValidation("Prefer", prefer);
        return Client.SendAsync(message);
    }

    private Task<HttpResponseMessage> GetAsync(string url, string prefer)
    {
        var message = new HttpRequestMessage(HttpMethod.Get, url);
        message.Headers.TryAddWithoutValidation("Prefer", prefer);
        return Client.SendAsync(message);
    }

    [Fact]
    public async Task Post_with_a_wait_for_a_job_that_cannot_finish_answers_202_after_the_wait()
    {
        var clock = Stopwatch.StartNew();
        var response = await PostAsync(ValidRequest(), "wait=2");
        clock.Stop();

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("wait=2", response.Headers.GetValues("Preference-Applied").Single());
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.9), TimeSpan.FromSeconds(10));
        Assert.Equal("queued", (await ReadJsonAsync(response)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Get_with_a_wait_for_a_queued_job_answers_after_the_wait()
    {
        var location = (await PostGenerationAsync(ValidRequest())).Headers.Location!.OriginalString;

        var clock = Stopwatch.StartNew();
        var response = await GetAsync(location, "respond-async, wait=1");
        clock.Stop();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("wait=1", response.Headers.GetValues("Preference-Applied").Single());
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Wait_on_a_job_canceled_meanwhile_returns_when_it_is_canceled()
    {
        var location = (await PostGenerationAsync(ValidRequest())).Headers.Location!.OriginalString;

        var clock = Stopwatch.StartNew();
        var waiting = GetAsync(location, "wait=20");
        await Task.Delay(500);
        await Client.PostAsync($"{location}/cancel", null);
        var response = await waiting;
        clock.Stop();

        Assert.Equal("canceled", (await ReadJsonAsync(response)).GetProperty("status").GetString());
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.4), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Wait_above_sixty_seconds_is_capped_and_a_finished_job_answers_at_once()
    {
        var id = (await ReadJsonAsync(await PostGenerationAsync(ValidRequest()))).GetProperty("id").GetGuid();
        await Client.PostAsync($"/v1/jobs/{id}/cancel", null);

        var clock = Stopwatch.StartNew();
        var response = await GetAsync($"/v1/jobs/{id}", "wait=600");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("wait=60", response.Headers.GetValues("Preference-Applied").Single());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), clock.Elapsed.ToString());
    }

    [Theory]
    [InlineData("wait=soon")]
    [InlineData("wait=-3")]
    [InlineData("wait")]
    public async Task Malformed_wait_is_ignored(string prefer)
    {
        var clock = Stopwatch.StartNew();
        var response = await PostAsync(ValidRequest(), prefer);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.False(response.Headers.Contains("Preference-Applied"));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), clock.Elapsed.ToString());
    }

    [Fact]
    public async Task Aborted_wait_stops_without_harming_the_job()
    {
        var location = (await PostGenerationAsync(ValidRequest())).Headers.Location!.OriginalString;
        using var abort = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var message = new HttpRequestMessage(HttpMethod.Get, location);
        message.Headers.TryAddWithoutValidation("Prefer", "wait=30");

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Client.SendAsync(message, abort.Token));

        var job = await ReadJsonAsync(await Client.GetAsync(location));
        Assert.Equal(nameof(JobStatus.Queued).ToLowerInvariant(), job.GetProperty("status").GetString());
    }
}

public sealed class PreferWaitTestsOnSqlite(SqliteApiFactory factory) : PreferWaitTests<SqliteApiFactory>(factory);

public sealed class PreferWaitTestsOnPostgres(PostgresApiFactory factory) : PreferWaitTests<PostgresApiFactory>(factory);
