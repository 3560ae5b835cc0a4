using Easel.Testing;
using Easel.Tools.Fuzzing;

namespace Easel.Api.Tests;

/// <summary>
/// The short form of <c>fuzz-requests</c> (tools/Easel.Tools): 200 seeded mutations of valid bodies and broken images
/// to POST /v1/generations in memory. The full form (1,000 requests over sockets to a real service) is the command.
/// </summary>
public abstract class RequestFuzzTests<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : EaselApiFactory
{
    [Fact]
    public async Task Two_hundred_mutated_bodies_get_no_5xx_every_refusal_has_errors_and_only_accepted_ones_are_stored()
    {
        var jobsBefore = await Factory.CountJobsAsync();

        var report = await RequestFuzzer.RunAsync(seed: 1, count: 200, async fuzzCase =>
        {
            using var request = fuzzCase.ToHttpRequest();
            using var response = await Client.SendAsync(request);
            return new FuzzAnswer((int)response.StatusCode, response.Content.Headers.ContentType?.ToString(), await response.Content.ReadAsStringAsync());
        });

        Assert.True(report.Failures.Count == 0, string.Join("\n", report.Failures) + "\n" + report.Table());
        Assert.InRange(report.Accepted, 1, report.Total - 1);
        Assert.Equal(jobsBefore + report.Accepted, await Factory.CountJobsAsync());
    }
}

public sealed class RequestFuzzTestsOnSqlite(SqliteApiFactory factory) : RequestFuzzTests<SqliteApiFactory>(factory);

public sealed class RequestFuzzTestsOnPostgres(PostgresApiFactory factory) : RequestFuzzTests<PostgresApiFactory>(factory);
