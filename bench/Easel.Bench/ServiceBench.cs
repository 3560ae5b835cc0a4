using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Easel.Testing;

namespace Easel.Bench;

/// <summary>
/// <c>Easel.Bench service</c>: the job service on PostgreSQL (the server named by EASEL_TEST_POSTGRES; a database of its
/// own is created and dropped), with the API and a separate worker process started from the build output.
/// <list type="bullet">
/// <item>Enqueue rate: POST /v1/generations through HTTP with no worker running (jobs only queue), N requests from C
/// concurrent clients.</item>
/// <item>Service overhead: one job at a time on a tiny model with few steps, submitted with a webhook to a receiver in
/// this process; overhead = (webhook received − submit started) − (the job's finished_at − started_at), i.e. everything
/// but the worker's own run of the job: HTTP, the insert, dispatch, pick-up, the outbox and the webhook POST.</item>
/// </list>
/// </summary>
internal static class ServiceBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var enqueueJobs = IntOption(args, "--enqueue", 300);
        var concurrency = IntOption(args, "--concurrency", 8);
        var samples = IntOption(args, "--jobs", 30);
        var steps = IntOption(args, "--steps", 2);
        var model = Option(args, "--model") ?? DefaultModel();
        Console.WriteLine($"service bench: PostgreSQL, API + 1 worker process, model {model}, {steps} step(s) at 64×64, " +
                          $"{Environment.ProcessorCount} logical cores (shared with the service processes)");

        var table = new Table("what", "n", "p50 ms", "p99 ms", "mean", "note");
        var rate = await MeasureEnqueueRateAsync(model, enqueueJobs, concurrency, table);
        Console.WriteLine($"enqueue rate: {rate:F0} jobs/s ({enqueueJobs} POSTs, {concurrency} concurrent clients, no worker)");
        await MeasureOverheadAsync(model, samples, steps, table);
        table.Print(Console.Out);
        return 0;
    }

    private static async Task<double> MeasureEnqueueRateAsync(string model, int jobs, int concurrency, Table table)
    {
        await using var database = await TestDatabase.CreatePostgresAsync();
        using var dataDir = new TemporaryFolder();
        var environment = ServiceEnvironment(database, model, dataDir.Path);
        await MigrateAsync(environment);
        await using var api = await ServiceProcess.StartAsync("Easel.Api.dll", environment);
        using var client = api.CreateClient();
        var body = Request(model, steps: 2, webhook: null);
        for (var i = 0; i < 20; i++) // warm-up: JIT, connection pools
            await SubmitAsync(client, body);

        var latencies = new ConcurrentBag<double>();
        var next = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) <= jobs)
            {
                var start = Stopwatch.GetTimestamp();
                await SubmitAsync(client, body);
                latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
        }));
        var rate = jobs / clock.Elapsed.TotalSeconds;
        AddRow(table, "submit latency under load", latencies.ToList(), $"{rate:F0} jobs/s, {concurrency} clients");
        return rate;
    }

    private static async Task MeasureOverheadAsync(string model, int samples, int steps, Table table)
    {
        await using var database = await TestDatabase.CreatePostgresAsync();
        using var dataDir = new TemporaryFolder();
        var environment = ServiceEnvironment(database, model, dataDir.Path);
        await MigrateAsync(environment);
        using var receiver = new WebhookReceiver();
        await using var api = await ServiceProcess.StartAsync("Easel.Api.dll", environment);
        await using var worker = await ServiceProcess.StartAsync("Easel.Workers.dll", environment);
        using var client = api.CreateClient();

        var endToEnd = new List<double>();
        var pipeline = new List<double>();
        var overhead = new List<double>();
        var pickup = new List<double>();
        const int warmup = 3; // model load, JIT on both sides
        for (var i = 0; i < warmup + samples; i++)
        {
            var start = Stopwatch.GetTimestamp();
            var id = await SubmitAsync(client, Request(model, steps, receiver.Url));
            var received = await receiver.WaitAsync(id, TimeSpan.FromMinutes(2));
            var total = Stopwatch.GetElapsedTime(start, received).TotalMilliseconds;
            var job = await client.GetFromJsonAsync<JsonElement>($"/v1/jobs/{id}");
            if (job.GetProperty("status").GetString() != "succeeded")
                throw new InvalidOperationException($"Job {id} did not succeed: {job}");
            var created = job.GetProperty("created_at").GetDateTimeOffset();
            var started = job.GetProperty("started_at").GetDateTimeOffset();
            var finished = job.GetProperty("finished_at").GetDateTimeOffset();
            if (i < warmup)
                continue;
            var run = (finished - started).TotalMilliseconds;
            endToEnd.Add(total);
            pipeline.Add(run);
            overhead.Add(total - run);
            pickup.Add((started - created).TotalMilliseconds);
        }
        AddRow(table, "submit → webhook received", endToEnd, "end to end, one job at a time");
        AddRow(table, "job run (started_at → finished_at)", pipeline, $"{steps} step(s), PNG, blob, rows");
        AddRow(table, "service overhead", overhead, "end to end − job run; target p50 ≤ 50 ms");
        AddRow(table, "pick-up (created_at → started_at)", pickup, "insert → dispatch → worker claim");
    }

    private static Dictionary<string, string> ServiceEnvironment(TestDatabase database, string model, string dataDir) => new()
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
        ["Logging__LogLevel__Default"] = "Warning",
        ["Easel__Database__Provider"] = "postgres",
        ["ConnectionStrings__Easel"] = database.ConnectionString,
        ["Easel__Database__MigrateOnStart"] = "false",
        ["Easel__DataDir"] = dataDir,
        ["Easel__Models__bench__Path"] = model,
        ["Easel__DefaultModel"] = "bench",
        ["Easel__Webhooks__AllowPrivateTargets"] = "true",
        ["Easel__Workers__InProcess"] = "false",
        ["Easel__Workers__Device"] = "cpu",
        // The bench submits far more than a client normally would: no rate limit, no queue cap in its way.
        ["Easel__Auth__RateLimitWhenOpen"] = "false",
        ["OMP_NUM_THREADS"] = "1",
    };

    private static async Task MigrateAsync(IReadOnlyDictionary<string, string> environment)
    {
        var (exitCode, output) = await ServiceProcess.RunToExitAsync("Easel.Api.dll", ["migrate"], environment, TimeSpan.FromMinutes(2));
        if (exitCode != 0)
            throw new InvalidOperationException($"migrate exited with {exitCode}:\n{output}");
    }

    private static JsonObject Request(string model, int steps, string? webhook)
    {
        var body = new JsonObject
        {
            ["prompt"] = "a red circle",
            ["model"] = "bench",
            ["width"] = 64,
            ["height"] = 64,
            ["steps"] = steps,
            ["scheduler"] = "ddim",
        };
        if (webhook is not null)
            body["webhook"] = webhook;
        return body;
    }

    private static async Task<Guid> SubmitAsync(HttpClient client, JsonObject body)
    {
        using var response = await client.PostAsync("/v1/generations",
            new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
        if (response.StatusCode != HttpStatusCode.Accepted)
            throw new InvalidOperationException($"POST /v1/generations answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    private static void AddRow(Table table, string what, List<double> values, string note)
    {
        values.Sort();
        table.Add(what, values.Count, Percentile(values, 0.50), Percentile(values, 0.99), values.Average(), note);
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    private static double Percentile(List<double> sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static string DefaultModel()
    {
        var fixture = Path.Combine(TestPaths.RepositoryRoot(), "..", "shared", "fixtures", "diffusers-parity", "models", "sd15");
        return Directory.Exists(fixture)
            ? Path.GetFullPath(fixture)
            : Path.Combine(TestPaths.RepositoryRoot(), "models", "easel-shapes");
    }

    private static string? Option(string[] args, string name)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
    }

    private static int IntOption(string[] args, string name, int fallback) =>
        Option(args, name) is { } value ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;

    private sealed class TemporaryFolder : IDisposable
    {
        public string Path { get; } = TestPaths.NewTempFolder("easel-bench");

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }

    /// <summary>Receives job webhooks on loopback and notes when the final one of each job arrived.</summary>
    private sealed class WebhookReceiver : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly ConcurrentDictionary<Guid, TaskCompletionSource<long>> _finished = new();

        public WebhookReceiver()
        {
            var port = FreePort();
            Url = $"http://127.0.0.1:{port}/hook";
            _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            _listener.Start();
            _ = Task.Run(ServeAsync);
        }

        public string Url { get; }

        public async Task<long> WaitAsync(Guid jobId, TimeSpan within) =>
            await _finished.GetOrAdd(jobId, _ => new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously))
                .Task.WaitAsync(within);

        public void Dispose() => _listener.Close();

        private async Task ServeAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }
                var arrived = Stopwatch.GetTimestamp();
                using (var reader = new StreamReader(context.Request.InputStream))
                {
                    var body = JsonDocument.Parse(await reader.ReadToEndAsync()).RootElement;
                    if (body.GetProperty("status").GetString() is "succeeded" or "failed" or "canceled")
                    {
                        _finished.GetOrAdd(body.GetProperty("id").GetGuid(),
                            _ => new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult(arrived);
                    }
                }
                context.Response.StatusCode = 204;
                context.Response.Close();
            }
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}
