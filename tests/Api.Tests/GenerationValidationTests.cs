using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Easel.Testing;

namespace Easel.Api.Tests;

public abstract class GenerationValidationTests<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : EaselApiFactory
{
    public static TheoryData<string, string, string> BadFields => new()
    {
        // case name, field to change, its JSON value
        { "width not a multiple of 8", "width", "65" },
        { "width too large", "width", "4096" },
        { "height too small", "height", "32" },
        { "steps zero", "steps", "0" },
        { "steps above 150", "steps", "151" },
        { "unknown model", "model", "\"no-such-model\"" },
        { "unknown scheduler", "scheduler", "\"no-such-scheduler\"" },
        { "empty prompt", "prompt", "\"\"" },
        { "missing prompt", "prompt", "null" },
        { "num_images too high", "num_images", "5" },
        { "guidance above 30", "guidance_scale", "30.5" },
        { "negative seed", "seed", "-1" },
    };

    [Theory]
    [MemberData(nameof(BadFields))]
    public async Task Bad_field_is_rejected_with_a_problem_naming_it_and_no_job_is_created(string @case, string field, string value)
    {
        var jobsBefore = await Factory.CountJobsAsync();
        var body = ValidRequest();
        body[field] = JsonNode.Parse(value);

        var response = await PostGenerationAsync(body);

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest,
            $"{@case}: expected 400, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await ReadJsonAsync(response);
        Assert.Equal(400, problem.GetProperty("status").GetInt32());
        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out var messages), $"{@case}: errors {errors} do not name '{field}'");
        Assert.NotEmpty(messages.EnumerateArray());
        Assert.Single(errors.EnumerateObject());
        Assert.Equal(jobsBefore, await Factory.CountJobsAsync());
    }

    [Fact]
    public async Task Value_of_the_wrong_type_is_a_problem_naming_the_field()
    {
        var jobsBefore = await Factory.CountJobsAsync();
        var body = ValidRequest();
        body["steps"] = "many";

        var response = await PostGenerationAsync(body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await ReadJsonAsync(response);
        Assert.True(problem.GetProperty("errors").TryGetProperty("steps", out _), problem.ToString());
        Assert.Equal(jobsBefore, await Factory.CountJobsAsync());
    }

    [Fact]
    public async Task Problem_carries_a_trace_id()
    {
        var body = ValidRequest();
        body["steps"] = 0;

        var problem = await ReadJsonAsync(await PostGenerationAsync(body));

        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("trace_id").GetString()));
    }

    [Fact]
    public async Task Several_bad_fields_are_all_named()
    {
        var body = ValidRequest();
        body["width"] = 100;
        body["steps"] = 0;
        body["scheduler"] = "plms-nope";

        var response = await PostGenerationAsync(body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await ReadJsonAsync(response);
        var errors = problem.GetProperty("errors").EnumerateObject().Select(e => e.Name).Order().ToArray();
        Assert.Equal(["scheduler", "steps", "width"], errors);
    }
}

public sealed class GenerationValidationTestsOnSqlite(SqliteApiFactory factory) : GenerationValidationTests<SqliteApiFactory>(factory);

public sealed class GenerationValidationTestsOnPostgres(PostgresApiFactory factory) : GenerationValidationTests<PostgresApiFactory>(factory);
