using System.Text.Json;
using Easel.Testing;

namespace Easel.Api.Tests;

public abstract class JobApiDocumentTests<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : EaselApiFactory
{
    private async Task<JsonElement> OperationAsync(string path, string method) =>
        (await ReadJsonAsync(await Client.GetAsync("/swagger/v1/swagger.json"))).GetProperty("paths").GetProperty(path).GetProperty(method);

    private static HashSet<string> Statuses(JsonElement operation) =>
        operation.GetProperty("responses").EnumerateObject().Select(r => r.Name).ToHashSet();

    private static HashSet<string> HeaderParameters(JsonElement operation) =>
        operation.TryGetProperty("parameters", out var parameters)
            ? parameters.EnumerateArray().Where(p => p.GetProperty("in").GetString() == "header").Select(p => p.GetProperty("name").GetString()!).ToHashSet()
            : [];

    [Theory]
    [InlineData("/v1/jobs", "get")]
    [InlineData("/v1/jobs/{id}", "get")]
    [InlineData("/v1/jobs/{id}/cancel", "post")]
    [InlineData("/v1/generations", "post")]
    public async Task Job_endpoints_have_a_summary_and_a_description(string path, string method)
    {
        var operation = await OperationAsync(path, method);

        Assert.False(string.IsNullOrWhiteSpace(operation.GetProperty("summary").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(operation.GetProperty("description").GetString()));
    }

    [Fact]
    public async Task Document_names_the_job_headers_and_problem_statuses()
    {
        var create = await OperationAsync("/v1/generations", "post");
        var get = await OperationAsync("/v1/jobs/{id}", "get");
        var cancel = await OperationAsync("/v1/jobs/{id}/cancel", "post");
        var list = await OperationAsync("/v1/jobs", "get");

        Assert.Superset(new HashSet<string> { "Idempotency-Key", "Prefer" }, HeaderParameters(create));
        Assert.Superset(new HashSet<string> { "200", "202", "400", "409", "422" }, Statuses(create));
        Assert.Contains("Prefer", HeaderParameters(get));
        Assert.Superset(new HashSet<string> { "200", "404" }, Statuses(get));
        Assert.Contains("Idempotency-Key", HeaderParameters(cancel));
        Assert.Superset(new HashSet<string> { "200", "202", "404", "409", "422" }, Statuses(cancel));
        Assert.Superset(new HashSet<string> { "200", "400" }, Statuses(list));
        Assert.True(create.GetProperty("responses").GetProperty("202").GetProperty("headers").TryGetProperty("Preference-Applied", out _));
    }
}

public sealed class JobApiDocumentTestsOnSqlite(SqliteApiFactory factory) : JobApiDocumentTests<SqliteApiFactory>(factory);

public sealed class JobApiDocumentTestsOnPostgres(PostgresApiFactory factory) : JobApiDocumentTests<PostgresApiFactory>(factory);
