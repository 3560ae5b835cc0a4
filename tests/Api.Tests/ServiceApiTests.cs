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
    public async Task Models_lists_the_configured_models_with_their_family_and_default_flag()
    {
        var models = (await ReadJsonAsync(await Client.GetAsync("/v1/models"))).GetProperty("data").EnumerateArray()
            .ToDictionary(m => m.GetProperty("name").GetString()!);

        Assert.Equal(["controlnet_sd15", "controlnet_sdxl", "gligen_text", "sd15", "sd15_inpaint", "sd2", "sdxl", "t2i_adapter_full", "t2i_adapter_light"],
            models.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(("sd2", false), (models["sd2"].GetProperty("family").GetString(), models["sd2"].GetProperty("default").GetBoolean()));
        Assert.Equal("sdxl", models["sdxl"].GetProperty("family").GetString());
        Assert.True(models["sd15_inpaint"].GetProperty("inpainting").GetBoolean());
        var model = models["sd15"];
        Assert.Equal("sd15", model.GetProperty("name").GetString());
        Assert.Equal("sd15", model.GetProperty("family").GetString());
        Assert.True(model.GetProperty("default").GetBoolean());
        Assert.False(model.GetProperty("inpainting").GetBoolean());
        Assert.Equal(Path.GetFullPath(TestPaths.FixtureModel("sd15")), model.GetProperty("path").GetString());
        Assert.Equal("diffusers", model.GetProperty("format").GetString());
        // The fixture's native size (sample_size 32 × VAE factor 2); the service-wide values for the rest.
        var defaults = model.GetProperty("defaults");
        Assert.Equal((64, 64, 30, 7.5, "euler"), (defaults.GetProperty("width").GetInt32(), defaults.GetProperty("height").GetInt32(),
            defaults.GetProperty("steps").GetInt32(), defaults.GetProperty("guidance_scale").GetDouble(), defaults.GetProperty("scheduler").GetString()));
        Assert.Empty(model.GetProperty("workers").EnumerateArray()); // this API runs no worker
    }

    [Fact]
    public async Task Models_lists_a_model_a_live_worker_registered_with_that_worker_and_drops_workers_whose_heartbeat_is_stale()
    {
        var live = await WorkerRows.RegisterLiveAsync(Factory, $"live-{Guid.NewGuid():N}", "sd2");
        var stale = await WorkerRows.RegisterAsync(Factory, $"stale-{Guid.NewGuid():N}", DateTimeOffset.UtcNow.AddMinutes(-5), "sdxl");

        var models = (await ReadJsonAsync(await Client.GetAsync("/v1/models"))).GetProperty("data").EnumerateArray()
            .ToDictionary(m => m.GetProperty("name").GetString()!);

        Assert.Contains(live, models["sd2"].GetProperty("workers").EnumerateArray().Select(w => w.GetString()));
        Assert.DoesNotContain(stale, models["sdxl"].GetProperty("workers").EnumerateArray().Select(w => w.GetString()));
    }

    [Fact]
    public async Task Schedulers_lists_every_registered_scheduler_with_its_A1111_name_aliases_and_diffusers_class()
    {
        var schedulers = await ReadJsonAsync(await Client.GetAsync("/v1/schedulers"));

        var byName = schedulers.GetProperty("data").EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!);
        Assert.Equal(
            ["ddim", "ddpm", "dpmpp_2m", "dpmpp_2m_karras", "euler", "euler_a", "euler_karras", "lcm", "lms", "lms_karras", "pndm"],
            byName.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("DPM++ 2M Karras", byName["dpmpp_2m_karras"].GetProperty("display_name").GetString());
        Assert.Equal("DPMSolverMultistepScheduler", byName["dpmpp_2m_karras"].GetProperty("diffusers_class").GetString());
        Assert.Equal("Euler a", byName["euler_a"].GetProperty("display_name").GetString());
        Assert.Contains("k_euler_a", byName["euler_a"].GetProperty("aliases").EnumerateArray().Select(a => a.GetString()));
        Assert.True(byName["euler"].GetProperty("default").GetBoolean());
        Assert.Single(byName.Values, s => s.GetProperty("default").GetBoolean());
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
    public async Task Swagger_documents_generation_as_json_or_multipart_with_file_parts_and_its_problem_statuses()
    {
        var document = await ReadJsonAsync(await Client.GetAsync("/swagger/v1/swagger.json"));

        var post = document.GetProperty("paths").GetProperty("/v1/generations").GetProperty("post");
        var content = post.GetProperty("requestBody").GetProperty("content");
        Assert.True(content.TryGetProperty("application/json", out _), content.ToString());
        var form = content.GetProperty("multipart/form-data").GetProperty("schema").GetProperty("properties");
        Assert.Equal("binary", form.GetProperty("image").GetProperty("format").GetString());
        Assert.Equal("binary", form.GetProperty("mask").GetProperty("format").GetString());
        var statuses = post.GetProperty("responses").EnumerateObject().Select(r => r.Name).ToHashSet();
        Assert.Superset(new HashSet<string> { "202", "400", "413", "415", "422" }, statuses);
    }

    [Fact]
    public async Task Swagger_documents_seed_mode_and_image_and_mask_as_base64_or_a_stored_input()
    {
        var document = await ReadJsonAsync(await Client.GetAsync("/swagger/v1/swagger.json"));

        var schemas = document.GetProperty("components").GetProperty("schemas");
        var request = schemas.GetProperty("GenerationRequest").GetProperty("properties");
        Assert.True(request.TryGetProperty("seed_mode", out _), request.ToString());
        foreach (var field in new[] { "image", "mask" })
        {
            var schema = request.GetProperty(field);
            if (schema.TryGetProperty("$ref", out var reference))
                schema = schemas.GetProperty(reference.GetString()!.Split('/')[^1]);
            var kinds = schema.GetProperty("oneOf").EnumerateArray().Select(s => s.GetProperty("type").GetString()).ToList();
            Assert.Equal(["string", "object"], kinds);
        }
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
