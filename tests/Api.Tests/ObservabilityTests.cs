using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Easel.Core.Jobs;
using Easel.Testing;
using Microsoft.EntityFrameworkCore;

namespace Easel.Api.Tests;

public abstract partial class ObservabilityTests<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : EaselApiFactory
{
    [Fact]
    public async Task A_generation_stores_the_W3C_traceparent_of_its_request_so_the_worker_span_joins_the_trace()
    {
        const string traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/generations")
        {
            Content = new StringContent(ValidRequest().ToJsonString(), System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("traceparent", $"00-{traceId}-00f067aa0ba902b7-01");

        var response = await Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = (await ReadJsonAsync(response)).GetProperty("id").GetGuid();
        var stored = await Factory.WithDbAsync(db => db.Jobs.Where(j => j.Id == id).Select(j => j.TraceParent).SingleAsync());
        Assert.NotNull(stored);
        var parts = stored.Split('-');
        Assert.Equal(["00", traceId], parts[..2]);
        Assert.NotEqual("00f067aa0ba902b7", parts[2]); // the API's own server span, a child of the caller's
    }

    [Fact]
    public async Task Metrics_report_the_queue_depth_read_from_the_jobs_table()
    {
        Assert.Equal(HttpStatusCode.Accepted, (await PostGenerationAsync(ValidRequest())).StatusCode);
        var queued = await Factory.WithDbAsync(db => db.Jobs.CountAsync(j => j.Status == JobStatus.Queued));

        // The gauge reads the table at most every few seconds; wait for a reading taken after the submission.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        long? depth = null;
        while (DateTime.UtcNow < deadline)
        {
            var match = QueueDepth().Match(await Client.GetStringAsync("/metrics"));
            depth = match.Success ? long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : null;
            if (depth == queued)
                break;
            await Task.Delay(500);
        }
        Assert.Equal(queued, depth);
        Assert.Contains("easel_jobs_running{", await Client.GetStringAsync("/metrics"));
    }

    [GeneratedRegex("""easel_queue_depth\{[^}]*kind="generation"[^}]*\} (\d+)""")]
    private static partial Regex QueueDepth();
}

public sealed class ObservabilityTestsOnSqlite(SqliteApiFactory factory) : ObservabilityTests<SqliteApiFactory>(factory);

public sealed class ObservabilityTestsOnPostgres(PostgresApiFactory factory) : ObservabilityTests<PostgresApiFactory>(factory);
