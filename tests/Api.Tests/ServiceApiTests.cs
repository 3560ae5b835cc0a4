using System.Net;
using Easel.Testing;
using Hangfire;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Easel.Api.Tests;

public abstract class ServiceApiTests<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : EaselApiFactory
{
    [Fact]
    public async Task Models_lists_the_configured_model_with_its_family_and_default_flag()
    {
        var models = await ReadJsonAsync(await Client.GetAsync("/v1/models"));

        var model = Assert.Single(models.EnumerateArray());
        Assert.Equal("sd15", model.GetProperty("name").GetString());
        Assert.Equal("sd15", model.GetProperty("family").GetString());
        Assert.True(model.GetProperty("default").GetBoolean());
        Assert.False(model.GetProperty("inpainting").GetBoolean());
        Assert.Equal(Path.GetFullPath(TestPaths.FixtureModel("sd15")), model.GetProperty("path").GetString());
    }

    [Fact]
    public async Task Schedulers_lists_ddim_and_euler_with_their_A1111_aliases()
    {
        var schedulers = await ReadJsonAsync(await Client.GetAsync("/v1/schedulers"));

        var byName = schedulers.EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!);
        Assert.Contains("DDIM", byName["ddim"].GetProperty("aliases").EnumerateArray().Select(a => a.GetString()));
        Assert.Contains("Euler", byName["euler"].GetProperty("aliases").EnumerateArray().Select(a => a.GetString()));
    }

    [Fact]
    public async Task Liveness_and_readiness_are_healthy_when_the_database_answers()
    {
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync("/readyz")).StatusCode);
    }

    [Fact]
    public async Task Metrics_exposes_job_counters_in_Prometheus_format()
    {
        var body = ValidRequest();
        body["steps"] = 0;
        await PostGenerationAsync(body);

        var metrics = await Client.GetStringAsync("/metrics");

        Assert.Contains("easel_jobs_rejected_total", metrics);
    }

    [Fact]
    public async Task Swagger_document_lists_every_endpoint()
    {
        var document = await ReadJsonAsync(await Client.GetAsync("/swagger/v1/swagger.json"));

        var paths = document.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToHashSet();
        Assert.Superset(new HashSet<string> { "/v1/generations", "/v1/jobs/{id}", "/v1/images/{id}", "/v1/models", "/v1/schedulers" }, paths);
    }

    [Fact]
    public async Task Unknown_route_is_a_404_problem()
    {
        var response = await Client.GetAsync("/v1/nothing-here");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public void Without_in_process_workers_no_Hangfire_server_runs_and_libtorch_is_not_loaded()
    {
        var hosted = Factory.Services.GetServices<IHostedService>().Select(s => s.GetType().Name).ToList();
        Assert.DoesNotContain(hosted, name => name.Contains("BackgroundJobServer", StringComparison.Ordinal));
        Assert.NotNull(Factory.Services.GetService<JobStorage>());
        var maps = File.ReadAllText("/proc/self/maps");
        Assert.DoesNotContain("libtorch", maps);
    }
}

public sealed class ServiceApiTestsOnSqlite(SqliteApiFactory factory) : ServiceApiTests<SqliteApiFactory>(factory);

public sealed class ServiceApiTestsOnPostgres(PostgresApiFactory factory) : ServiceApiTests<PostgresApiFactory>(factory);
