using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Easel.Testing;
using Npgsql;
using Xunit.Abstractions;

namespace Easel.EndToEnd.Tests;

/// <summary>
/// The production layout on PostgreSQL: the API (no in-process worker, no model of its own) and separate worker processes
/// that serve the model, all real child processes started from the build output, the schema applied beforehand by the
/// migrate command. Jobs are long (many steps on the small fixture model) so that a worker can be stopped or killed while
/// it runs one.
/// </summary>
public sealed class TwoProcessTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Steps = 100;
    private readonly string _dataDir = TestPaths.NewTempFolder("easel-two-process");
    private readonly List<ServiceProcess> _processes = [];
    private TestDatabase? _database;

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreatePostgresAsync();
        var migrate = await RunToExitAsync("Easel.Api.dll", "migrate");
        Assert.True(migrate.ExitCode == 0, $"migrate exited with {migrate.ExitCode}:\n{migrate.Output}");
        Assert.Equal(0, (await RunToExitAsync("Easel.Workers.dll", "migrate")).ExitCode); // idempotent, from either executable
    }

    [Fact]
    public async Task A_worker_killed_mid_job_loses_nothing_and_the_next_worker_runs_the_job_to_success_exactly_once()
    {
        await using var api = await StartAsync("Easel.Api.dll");
        var first = await StartAsync("Easel.Workers.dll");
        using var client = api.CreateClient();
        var location = await SubmitAsync(client);
        await UntilRunningWithProgressAsync(client, location);

        first.KillHard();
        await first.WaitForExitAsync(TimeSpan.FromSeconds(10));
        await using var second = await StartAsync("Easel.Workers.dll");
        var job = await JobPolling.UntilFinishedAsync(client, location, TimeSpan.FromMinutes(4));

        await AssertSucceededOnceAsync(job, expectedAttempts: 2);
        Assert.Equal(1L, await CountAsync("SELECT count(*) FROM job_events WHERE job_id = @id AND type = 'succeeded'", job));
    }

    [Fact]
    public async Task A_worker_killed_right_after_it_fetched_a_job_is_found_dead_in_seconds_and_another_worker_runs_the_job_once()
    {
        await using var api = await StartAsync("Easel.Api.dll");
        var first = await StartAsync("Easel.Workers.dll", killAt: "fetched");
        using var client = api.CreateClient();
        var location = await SubmitAsync(client);
        await first.WaitForExitAsync(TimeSpan.FromMinutes(1));
        var lost = await client.GetFromJsonAsync<JsonElement>(location);
        var stale = await DispatchIdAsync(lost);
        // What the issue saw: the row never claimed, its Hangfire job Processing on a server that no longer exists.
        Assert.Equal(("queued", 0), (lost.GetProperty("status").GetString(), lost.GetProperty("attempts").GetInt32()));
        Assert.Equal("Processing", await HangfireStateAsync(stale));
        var died = Stopwatch.StartNew();

        await using var second = await StartAsync("Easel.Workers.dll");
        var job = await JobPolling.UntilFinishedAsync(client, location, TimeSpan.FromSeconds(90));

        output.WriteLine($"finished {died.Elapsed.TotalSeconds:F1} s after the first worker died");
        await AssertSucceededOnceAsync(job, expectedAttempts: 1);
        await AssertStaleDeliveryDeletedAsync(job, stale);
    }

    [Fact]
    public async Task A_worker_killed_right_after_it_claimed_a_job_loses_its_hangfire_job_and_another_worker_runs_the_job_once()
    {
        await using var api = await StartAsync("Easel.Api.dll");
        var first = await StartAsync("Easel.Workers.dll", killAt: "claimed");
        using var client = api.CreateClient();
        var location = await SubmitAsync(client);
        await first.WaitForExitAsync(TimeSpan.FromMinutes(1));
        var lost = await client.GetFromJsonAsync<JsonElement>(location);
        var stale = await DispatchIdAsync(lost);
        Assert.Equal(("running", 1), (lost.GetProperty("status").GetString(), lost.GetProperty("attempts").GetInt32()));
        Assert.Equal("Processing", await HangfireStateAsync(stale));

        await using var second = await StartAsync("Easel.Workers.dll");
        var job = await JobPolling.UntilFinishedAsync(client, location, TimeSpan.FromSeconds(90));

        await AssertSucceededOnceAsync(job, expectedAttempts: 2);
        await AssertStaleDeliveryDeletedAsync(job, stale);
    }

    [Fact]
    public async Task On_SIGTERM_a_worker_hands_its_running_job_back_and_another_worker_runs_it_to_success()
    {
        await using var api = await StartAsync("Easel.Api.dll");
        var first = await StartAsync("Easel.Workers.dll", drainTimeout: "00:00:00");
        using var client = api.CreateClient();
        var location = await SubmitAsync(client);
        await UntilRunningWithProgressAsync(client, location);

        first.Terminate();
        Assert.Equal(0, await first.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var handedBack = await client.GetFromJsonAsync<JsonElement>(location);
        Assert.Equal("queued", handedBack.GetProperty("status").GetString());
        Assert.Equal(1, handedBack.GetProperty("attempts").GetInt32());

        await using var second = await StartAsync("Easel.Workers.dll");
        var job = await JobPolling.UntilFinishedAsync(client, location, TimeSpan.FromMinutes(4));

        // Known race (left for the reliability issue): Hangfire re-queues the handed-back job itself while the recovery
        // sweep, seeing it fetched by the stopped server, dispatches it again and deletes it just after the second worker
        // fetched it; that worker's run is canceled and handed back once more. It still succeeds exactly once.
        await AssertSucceededOnceAsync(job, expectedAttempts: 2, maxAttempts: 3);
        var id = job.GetProperty("id").GetString()!;
        // Structured logs: the runner's lines carry the job id in their scope.
        Assert.Contains(second.Output, line => line.StartsWith('{') && line.Contains($"\"JobId\":\"{id}\"", StringComparison.Ordinal));
        // The worker's own /metrics: finished jobs by kind and status, queue wait, run time and step time histograms.
        using var workerClient = second.CreateClient();
        var metrics = await workerClient.GetStringAsync("/metrics");
        Assert.Contains("easel_jobs_finished_total{otel_scope_name=\"Easel\",kind=\"generation\",model=\"sd15\",status=\"succeeded\"} 1", metrics);
        Assert.Contains("easel_job_duration_seconds_bucket{otel_scope_name=\"Easel\",kind=\"generation\",model=\"sd15\",status=\"succeeded\",le=\"3600\"} 1", metrics);
        Assert.Contains("easel_job_queue_wait_seconds_bucket{otel_scope_name=\"Easel\",kind=\"generation\",le=\"3600\"}", metrics); // 1, or 2 after the race above
        Assert.Contains("easel_denoise_step_duration_seconds_count{otel_scope_name=\"Easel\",model=\"sd15\"}", metrics);
        Assert.Contains("easel_queue_depth{otel_scope_name=\"Easel\",kind=\"generation\"}", metrics);
    }

    [Fact]
    public async Task On_SIGTERM_a_worker_finishes_its_running_job_within_the_drain_timeout_and_then_exits()
    {
        await using var api = await StartAsync("Easel.Api.dll");
        var worker = await StartAsync("Easel.Workers.dll", drainTimeout: "00:05:00");
        using var client = api.CreateClient();
        var location = await SubmitAsync(client);
        await UntilRunningWithProgressAsync(client, location);

        worker.Terminate();
        Assert.Equal(0, await worker.WaitForExitAsync(TimeSpan.FromMinutes(4)));
        var job = await client.GetFromJsonAsync<JsonElement>(location);

        await AssertSucceededOnceAsync(job, expectedAttempts: 1);
    }

    [Fact]
    public async Task A_model_configured_on_the_worker_only_is_listed_by_the_api_with_its_worker_and_defaults_and_its_jobs_succeed()
    {
        await using var api = await StartAsync("Easel.Api.dll");
        using var client = api.CreateClient();
        Assert.Empty((await client.GetFromJsonAsync<JsonElement>("/v1/models")).GetProperty("data").EnumerateArray());
        await using var worker = await StartAsync("Easel.Workers.dll");

        var model = Assert.Single((await client.GetFromJsonAsync<JsonElement>("/v1/models")).GetProperty("data").EnumerateArray());
        Assert.Equal("sd15", model.GetProperty("name").GetString());
        Assert.True(model.GetProperty("default").GetBoolean());
        Assert.Equal(64, model.GetProperty("defaults").GetProperty("width").GetInt32()); // the fixture's sample_size 32 × VAE factor 2
        Assert.Single(model.GetProperty("workers").EnumerateArray());
        // No model named: the worker's default; no size: the model's.
        var response = await client.PostAsync("/v1/generations", new StringContent("""{"prompt":"a red circle","steps":3}""",
            System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var job = await JobPolling.UntilFinishedAsync(client, response.Headers.Location!.ToString(), TimeSpan.FromMinutes(2));

        Assert.True(job.GetProperty("status").GetString() == "succeeded", $"The job did not succeed: {job}");
        Assert.Equal(("sd15", 64), (job.GetProperty("request").GetProperty("model").GetString(), job.GetProperty("request").GetProperty("width").GetInt32()));
    }

    [Fact]
    public async Task Once_its_last_worker_stops_a_model_is_refused_at_submit_with_422_naming_the_setting()
    {
        await using var api = await StartAsync("Easel.Api.dll");
        var worker = await StartAsync("Easel.Workers.dll");
        using var client = api.CreateClient();
        Assert.Single((await client.GetFromJsonAsync<JsonElement>("/v1/models")).GetProperty("data")[0].GetProperty("workers").EnumerateArray());

        worker.Terminate();
        Assert.Equal(0, await worker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        await Task.Delay(Easel.Core.Models.ModelCatalog.RefreshInterval + TimeSpan.FromMilliseconds(200));
        var response = await client.PostAsync("/v1/generations", new StringContent("""{"prompt":"a red circle","model":"sd15"}""",
            System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("Easel:Jobs:UnservedModel", problem.GetProperty("errors").GetProperty("model")[0].GetString());
        var listed = Assert.Single((await client.GetFromJsonAsync<JsonElement>("/v1/models")).GetProperty("data").EnumerateArray());
        Assert.Empty(listed.GetProperty("workers").EnumerateArray()); // still known (described by the stopped worker's rows), served by none
    }

    [Fact]
    public async Task With_the_wait_policy_a_job_for_an_unserved_model_waits_for_a_worker_and_then_runs()
    {
        await using var api = await StartAsync("Easel.Api.dll", unservedModel: "wait");
        var first = await StartAsync("Easel.Workers.dll");
        first.Terminate();
        Assert.Equal(0, await first.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        using var client = api.CreateClient();
        await Task.Delay(Easel.Core.Models.ModelCatalog.RefreshInterval + TimeSpan.FromMilliseconds(200));

        var response = await client.PostAsync("/v1/generations", new StringContent("""{"prompt":"a red circle","steps":3}""",
            System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var location = response.Headers.Location!.ToString();
        var waiting = await client.GetFromJsonAsync<JsonElement>(location);
        Assert.Equal("queued", waiting.GetProperty("status").GetString());
        Assert.Contains("sd15", waiting.GetProperty("waiting_for").GetString());

        await using var second = await StartAsync("Easel.Workers.dll");
        var job = await JobPolling.UntilFinishedAsync(client, location, TimeSpan.FromMinutes(2));
        Assert.True(job.GetProperty("status").GetString() == "succeeded", $"The job did not succeed: {job}");
    }

    public async Task DisposeAsync()
    {
        foreach (var process in _processes)
        {
            output.WriteLine(process.Describe());
            await process.DisposeAsync();
        }
        if (_database is not null)
            await _database.DisposeAsync();
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// The README's layout: the model is configured on the workers only; the API learns it from their registration.
    /// <paramref name="killAt"/> arms a worker's <c>EASEL_TEST_SIGKILL_AT</c> kill point.
    /// </summary>
    private Dictionary<string, string> Environment(string assembly, string drainTimeout, string unservedModel, string? killAt)
    {
        var environment = Environment(drainTimeout);
        environment["Easel__Jobs__UnservedModel"] = unservedModel;
        if (assembly == "Easel.Workers.dll")
            environment["Easel__Models__sd15__Path"] = TestPaths.FixtureModel("sd15");
        if (killAt is not null)
            environment["EASEL_TEST_SIGKILL_AT"] = killAt;
        return environment;
    }

    private Dictionary<string, string> Environment(string drainTimeout) => new()
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
        ["Easel__Database__Provider"] = "postgres",
        ["ConnectionStrings__Easel"] = _database!.ConnectionString,
        ["Easel__Database__MigrateOnStart"] = "false",
        ["Easel__DataDir"] = _dataDir,
        ["Easel__Generation__MaxSteps"] = "1000",
        ["Easel__Webhooks__AllowPrivateTargets"] = "true",
        ["Easel__Workers__InProcess"] = "false",
        ["Easel__Workers__Device"] = "cpu",
        ["Easel__Workers__DrainTimeout"] = drainTimeout,
        // A killed worker's job is noticed by its stale heartbeat within seconds.
        ["Easel__Workers__HeartbeatInterval"] = "00:00:01",
        ["Easel__Workers__HeartbeatTimeout"] = "00:00:04",
        ["Easel__Workers__RecoveryInterval"] = "00:00:01",
        // One libtorch thread: the machine's cores are shared by the API, the workers and the test runner.
        ["OMP_NUM_THREADS"] = "1",
    };

    private async Task<ServiceProcess> StartAsync(string assembly, string drainTimeout = "00:00:30", string unservedModel = "refuse",
        string? killAt = null)
    {
        var process = await ServiceProcess.StartAsync(assembly, Environment(assembly, drainTimeout, unservedModel, killAt));
        _processes.Add(process);
        return process;
    }

    private Task<(int ExitCode, string Output)> RunToExitAsync(string assembly, string command) =>
        ServiceProcess.RunToExitAsync(assembly, [command], Environment("00:00:30"), TimeSpan.FromMinutes(2));

    private static async Task<string> SubmitAsync(HttpClient client)
    {
        var body = new JsonObject
        {
            ["prompt"] = "a red circle",
            ["model"] = "sd15",
            ["width"] = 64,
            ["height"] = 64,
            ["steps"] = Steps,
            ["seed"] = 7,
            ["scheduler"] = "ddim",
        };
        var response = await client.PostAsync("/v1/generations",
            new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return response.Headers.Location!.ToString();
    }

    private async Task UntilRunningWithProgressAsync(HttpClient client, string location)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var job = await client.GetFromJsonAsync<JsonElement>(location);
            var step = job.GetProperty("progress").GetProperty("step").GetInt32();
            if (job.GetProperty("status").GetString() == "running" && step > 0)
            {
                output.WriteLine($"running at step {step} of {Steps} after {clock.Elapsed.TotalSeconds:F1} s");
                Assert.True(step < Steps, $"The job ran to its end ({step} steps) before the test could stop its worker.");
                return;
            }
            if (clock.Elapsed > TimeSpan.FromMinutes(2))
                throw new TimeoutException($"The job did not start running: {job}");
            await Task.Delay(100);
        }
    }

    /// <summary>Succeeded after <paramref name="expectedAttempts"/> claims (up to <paramref name="maxAttempts"/>), with one set of images.</summary>
    private async Task AssertSucceededOnceAsync(JsonElement job, int expectedAttempts, int? maxAttempts = null)
    {
        output.WriteLine($"finished: {job.GetProperty("started_at")} → {job.GetProperty("finished_at")}");
        Assert.True(job.GetProperty("status").GetString() == "succeeded", $"The job did not succeed: {job}");
        Assert.InRange(job.GetProperty("attempts").GetInt32(), expectedAttempts, maxAttempts ?? expectedAttempts);
        Assert.Equal(Steps, job.GetProperty("progress").GetProperty("step").GetInt32());
        var image = Assert.Single(job.GetProperty("images").EnumerateArray());
        Assert.Equal(0, image.GetProperty("index").GetInt32());

        Assert.Equal(1L, await CountAsync("SELECT count(*) FROM images WHERE job_id = @id", job));
    }

    /// <summary>
    /// The Hangfire job that carried the job to the killed worker is deleted (so it can never run), the row names another
    /// one, and the job ran to success once: one succeeded event, one Hangfire job per delivery.
    /// </summary>
    private async Task AssertStaleDeliveryDeletedAsync(JsonElement job, string stale)
    {
        Assert.Equal("Deleted", await HangfireStateAsync(stale));
        Assert.NotEqual(stale, await DispatchIdAsync(job));
        Assert.Equal(1L, await CountAsync("SELECT count(*) FROM job_events WHERE job_id = @id AND type = 'succeeded'", job));
        Assert.Equal(2L, await CountAsync("SELECT count(*) FROM hangfire.job WHERE arguments::text LIKE '%' || @id::text || '%'", job));
    }

    private async Task<string> DispatchIdAsync(JsonElement job)
    {
        await using var connection = new NpgsqlConnection(_database!.ConnectionString);
        await connection.OpenAsync();
        await using var query = new NpgsqlCommand("SELECT dispatch_id FROM jobs WHERE id = @id", connection);
        query.Parameters.AddWithValue("id", job.GetProperty("id").GetGuid());
        return (string)(await query.ExecuteScalarAsync())!;
    }

    private async Task<string> HangfireStateAsync(string hangfireJobId)
    {
        await using var connection = new NpgsqlConnection(_database!.ConnectionString);
        await connection.OpenAsync();
        await using var query = new NpgsqlCommand("SELECT statename FROM hangfire.job WHERE id = @id", connection);
        query.Parameters.AddWithValue("id", long.Parse(hangfireJobId, System.Globalization.CultureInfo.InvariantCulture));
        return (string)(await query.ExecuteScalarAsync())!;
    }

    private async Task<long> CountAsync(string sql, JsonElement job)
    {
        await using var connection = new NpgsqlConnection(_database!.ConnectionString);
        await connection.OpenAsync();
        await using var query = new NpgsqlCommand(sql, connection);
        query.Parameters.AddWithValue("id", job.GetProperty("id").GetGuid());
        return (long)(await query.ExecuteScalarAsync())!;
    }
}
