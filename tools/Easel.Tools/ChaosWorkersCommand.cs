using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Easel.Testing;
using Npgsql;

namespace Easel.Tools;

/// <summary>
/// <c>chaos-workers</c>: the production layout on PostgreSQL (the API without an in-process worker, two
/// <c>Easel.Workers.dll</c> processes, all from the build output, on loopback), N generation jobs submitted over HTTP, K
/// SIGKILLs of a random worker at random (seeded) moments, each killed worker restarted at once. Then it checks that
/// every job succeeded exactly once (one succeeded event, num_images image rows, no failed job), that every job was
/// re-dispatched only from a killed worker (the Hangfire jobs of a job, all but the last deleted and processed by a killed
/// server), and that no job waited longer after its worker died (until a live worker fetched it again) than
/// HeartbeatTimeout + 2 × RecoveryInterval + the longest run of one job. While it runs it samples the heartbeats of the live workers (Hangfire's server heartbeat and
/// the running job's row) to show how far a worker under full CPU load stays from the timeout. Exit code 0 when every
/// check holds.
/// </summary>
internal static class ChaosWorkersCommand
{
    private static readonly string[] Prompts =
        ["a red circle", "a small blue square on the left", "a green triangle", "a big yellow circle on the right", "a purple square"];

    public static int Run(Options options) => RunAsync(options).GetAwaiter().GetResult();

    private static async Task<int> RunAsync(Options options)
    {
        var jobs = options.Int("jobs", 30);
        var kills = options.Int("kills", 15);
        var seed = options.Int("seed", 1);
        var steps = options.Int("steps", 60);
        var images = options.Int("images", 2);
        var size = options.Int("size", 64);
        var maxAttempts = options.OptionalInt("max-attempts", null);
        var limit = TimeSpan.FromSeconds(options.Int("timeout-seconds", 600));
        var heartbeatInterval = TimeSpan.FromSeconds(1);
        var heartbeatTimeout = TimeSpan.FromSeconds(4);
        var recoveryInterval = TimeSpan.FromSeconds(2);
        var server = options.OptionalString("postgres", Environment.GetEnvironmentVariable("EASEL_TEST_POSTGRES"))
            ?? throw new ArgumentException("--postgres (or EASEL_TEST_POSTGRES): an Npgsql connection string whose user may CREATE DATABASE.");

        var database = $"easel_chaos_{Guid.NewGuid():N}";
        await ExecuteAsync(server, $"CREATE DATABASE \"{database}\"");
        var connectionString = new NpgsqlConnectionStringBuilder(server) { Database = database }.ConnectionString;
        var dataDir = TestPaths.NewTempFolder("easel-chaos");
        var environment = new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Easel__Database__Provider"] = "postgres",
            ["ConnectionStrings__Easel"] = connectionString,
            ["Easel__Database__MigrateOnStart"] = "false",
            ["Easel__DataDir"] = dataDir,
            ["Easel__Auth__RateLimitWhenOpen"] = "false",
            ["Easel__Workers__InProcess"] = "false",
            ["Easel__Workers__Device"] = "cpu",
            ["Easel__Workers__HeartbeatInterval"] = heartbeatInterval.ToString(),
            ["Easel__Workers__HeartbeatTimeout"] = heartbeatTimeout.ToString(),
            ["Easel__Workers__RecoveryInterval"] = recoveryInterval.ToString(),
            // One libtorch thread per worker: two busy workers fill the machine's two cores, as one GPU per worker would.
            ["OMP_NUM_THREADS"] = options.String("threads", "1"),
        };
        if (maxAttempts is { } attempts)
            environment["Easel__Workers__MaxAttempts"] = attempts.ToString(CultureInfo.InvariantCulture);
        Console.WriteLine($"chaos-workers: {jobs} jobs ({size}×{size}, {steps} steps, {images} images), {kills} kills of 2 workers, "
            + $"seed {seed}, heartbeat {heartbeatInterval.TotalSeconds} s / timeout {heartbeatTimeout.TotalSeconds} s, recovery every "
            + $"{recoveryInterval.TotalSeconds} s, MaxAttempts {(maxAttempts?.ToString(CultureInfo.InvariantCulture) ?? "default")}, database {database}");

        var run = new ChaosRun(connectionString, environment);
        try
        {
            var (exitCode, output) = await ServiceProcess.RunToExitAsync("Easel.Api.dll", ["migrate"], environment, TimeSpan.FromMinutes(2));
            if (exitCode != 0)
                throw new InvalidOperationException($"migrate exited with {exitCode}:\n{output}");
            return await run.ExecuteAsync(jobs, kills, new Random(seed), steps, images, size, limit,
                heartbeatTimeout + 2 * recoveryInterval, heartbeatTimeout);
        }
        finally
        {
            await run.DisposeAsync();
            NpgsqlConnection.ClearAllPools();
            await ExecuteAsync(server, $"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
            Directory.Delete(dataDir, recursive: true);
        }
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>A worker killed at <paramref name="At"/> while it held <paramref name="Held"/> (claimed or only fetched).</summary>
    private sealed record Kill(int Pid, DateTimeOffset At, IReadOnlyList<Guid> Held);

    private sealed class ChaosRun(string connectionString, Dictionary<string, string> environment) : IAsyncDisposable
    {
        private readonly List<ServiceProcess> _processes = [];
        private readonly ServiceProcess?[] _workers = new ServiceProcess?[2];
        private readonly List<Kill> _kills = [];
        private readonly HashSet<int> _killedPids = [];
        private readonly object _liveLock = new();
        private readonly HashSet<int> _livePids = [];
        private double _longestServerHeartbeatAge;
        private double _longestRowHeartbeatAge;

        public async Task<int> ExecuteAsync(int jobCount, int killCount, Random random, int steps, int images, int size, TimeSpan limit,
            TimeSpan detectionBound, TimeSpan heartbeatTimeout)
        {
            var clock = Stopwatch.StartNew();
            var api = await StartAsync("Easel.Api.dll");
            for (var i = 0; i < _workers.Length; i++)
                _workers[i] = await StartWorkerAsync();
            using var client = api.CreateClient();
            var ids = new List<Guid>();
            for (var i = 0; i < jobCount; i++)
                ids.Add(await SubmitAsync(client, Prompts[random.Next(Prompts.Length)], random.Next(), steps, images, size));

            using var stop = new CancellationTokenSource();
            var sampler = Task.Run(() => SampleHeartbeatsAsync(stop.Token));
            while (_kills.Count < killCount && clock.Elapsed < limit && await UnfinishedAsync() > 0)
            {
                await Task.Delay(TimeSpan.FromSeconds(0.5 + 3.5 * random.NextDouble()));
                if (await UnfinishedAsync() == 0)
                    break;
                var slot = random.Next(_workers.Length);
                await KillAsync(_workers[slot]!);
                _workers[slot] = await StartWorkerAsync();
            }
            while (clock.Elapsed < limit && await UnfinishedAsync() > 0)
                await Task.Delay(250);
            await stop.CancelAsync();
            await sampler;
            var unfinished = await UnfinishedAsync();
            Console.WriteLine($"{_kills.Count} kills in {clock.Elapsed.TotalSeconds:F0} s; {unfinished} job(s) unfinished after the limit");
            return await ReportAsync(ids, images, detectionBound, heartbeatTimeout, unfinished);
        }

        private async Task<ServiceProcess> StartAsync(string assembly)
        {
            var process = await ServiceProcess.StartAsync(assembly, environment, TimeSpan.FromMinutes(2));
            _processes.Add(process);
            return process;
        }

        private async Task<ServiceProcess> StartWorkerAsync()
        {
            var worker = await StartAsync("Easel.Workers.dll");
            lock (_liveLock)
                _livePids.Add(worker.Id);
            return worker;
        }

        private async Task KillAsync(ServiceProcess worker)
        {
            lock (_liveLock)
                _livePids.Remove(worker.Id);
            worker.KillHard();
            var at = DateTimeOffset.UtcNow;
            await worker.WaitForExitAsync(TimeSpan.FromSeconds(30));
            _killedPids.Add(worker.Id);
            // Read after its death: the dead process changes nothing, and no sweep takes its jobs before HeartbeatTimeout.
            var held = await QueryAsync("""
                SELECT j.id FROM jobs j
                LEFT JOIN hangfire.job h ON h.id::text = j.dispatch_id
                LEFT JOIN hangfire.state s ON s.id = h.stateid
                WHERE (j.status = 'running' AND j.worker_name LIKE '%:' || @pid)
                   OR (j.status = 'queued' AND h.statename = 'Processing' AND s.data::jsonb->>'ServerId' LIKE '%-' || @pid || ':%')
                """, r => r.GetGuid(0), ("pid", worker.Id.ToString(CultureInfo.InvariantCulture)));
            _kills.Add(new Kill(worker.Id, at, held));
            Console.WriteLine($"  kill {_kills.Count}: worker pid {worker.Id} at {at:HH:mm:ss.fff}, holding {(held.Count == 0 ? "nothing" : string.Join(", ", held.Select(Short)))}");
        }

        private async Task<long> UnfinishedAsync() =>
            (await QueryAsync("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')", r => r.GetInt64(0)))[0];

        /// <summary>The oldest heartbeat of a live worker's Hangfire servers and of its running job's row, every 250 ms.</summary>
        private async Task SampleHeartbeatsAsync(CancellationToken cancellationToken)
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                int[] live;
                lock (_liveLock)
                    live = [.. _livePids];
                var servers = await QueryAsync(
                    "SELECT id, extract(epoch FROM now() - lastheartbeat)::float8 FROM hangfire.server",
                    r => (Id: r.GetString(0), Age: r.GetDouble(1)));
                var rows = await QueryAsync(
                    "SELECT worker_name, extract(epoch FROM now() - heartbeat_at)::float8 FROM jobs WHERE status = 'running'",
                    r => (Worker: r.GetString(0), Age: r.GetDouble(1)));
                // A worker killed since the copy of the live set was taken must not count: check again after the reads.
                lock (_liveLock)
                    live = [.. live.Where(_livePids.Contains)];
                foreach (var pid in live)
                {
                    foreach (var s in servers.Where(s => s.Id.Contains($"-{pid}:", StringComparison.Ordinal)))
                        _longestServerHeartbeatAge = Math.Max(_longestServerHeartbeatAge, s.Age);
                    foreach (var r in rows.Where(r => r.Worker.EndsWith($":{pid}", StringComparison.Ordinal)))
                        _longestRowHeartbeatAge = Math.Max(_longestRowHeartbeatAge, r.Age);
                }
                try
                {
                    await Task.Delay(250, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }

        private async Task<int> ReportAsync(List<Guid> ids, int images, TimeSpan detectionBound, TimeSpan heartbeatTimeout, long unfinished)
        {
            var rows = (await QueryAsync("""
                SELECT j.id, j.status, j.attempts, j.started_at, j.finished_at,
                       (SELECT count(*) FROM images i WHERE i.job_id = j.id),
                       (SELECT count(*) FROM job_events e WHERE e.job_id = j.id AND e.type = 'succeeded'),
                       (SELECT count(*) FROM hangfire.job h WHERE h.arguments::text LIKE '%' || j.id::text || '%')
                FROM jobs j
                """, r => new JobRow(r.GetGuid(0), r.GetString(1), r.GetInt32(2), Time(r, 3), Time(r, 4), r.GetInt64(5), r.GetInt64(6),
                r.GetInt64(7)))).ToDictionary(r => r.Id);
            // Every Hangfire job of a job but its last: a stale delivery, which the sweep must have deleted, and which must have
            // been processing on a killed worker's server (else a live worker had the job taken away).
            var stale = await QueryAsync("""
                SELECT j.id, h.id, h.statename,
                       (SELECT s.data::jsonb->>'ServerId' FROM hangfire.state s WHERE s.jobid = h.id AND s.name = 'Processing'
                        ORDER BY s.id DESC LIMIT 1)
                FROM jobs j JOIN hangfire.job h ON h.arguments::text LIKE '%' || j.id::text || '%'
                WHERE h.id::text <> j.dispatch_id
                """, r => (Job: r.GetGuid(0), HangfireId: r.GetInt64(1), State: r.GetString(2), Server: r.IsDBNull(3) ? null : r.GetString(3)));
            // A job stops waiting when a worker fetches it again (Hangfire's Processing state of one of its Hangfire jobs).
            var pickups = (await QueryAsync("""
                SELECT j.id, s.createdat FROM jobs j
                JOIN hangfire.job h ON h.arguments::text LIKE '%' || j.id::text || '%'
                JOIN hangfire.state s ON s.jobid = h.id AND s.name = 'Processing'
                """, r => (Job: r.GetGuid(0), At: new DateTimeOffset(DateTime.SpecifyKind(r.GetDateTime(1), DateTimeKind.Utc)))))
                .ToLookup(s => s.Job, s => s.At);

            var waits = new Dictionary<Guid, double>();
            foreach (var kill in _kills)
                foreach (var job in kill.Held)
                {
                    var next = pickups[job].Where(at => at > kill.At).Order().FirstOrDefault();
                    var waited = next == default ? double.PositiveInfinity : (next - kill.At).TotalSeconds;
                    waits[job] = Math.Max(waits.GetValueOrDefault(job), waited);
                }

            var fromLiveWorkers = stale.Count(s => s.Server is null || !_killedPids.Any(pid => s.Server.Contains($"-{pid}:", StringComparison.Ordinal)));
            var notDeleted = stale.Count(s => s.State != "Deleted");
            var longestRun = rows.Values.Where(r => r is { StartedAt: not null, FinishedAt: not null })
                .Select(r => (r.FinishedAt!.Value - r.StartedAt!.Value).TotalSeconds).DefaultIfEmpty(0).Max();
            var bound = detectionBound.TotalSeconds + longestRun;

            var table = new StringBuilder();
            table.AppendLine("| job | status | attempts | images | succeeded events | re-dispatches | waited after its worker died, until fetched again (s) |");
            table.AppendLine("|---|---|---|---|---|---|---|");
            foreach (var id in ids)
            {
                var r = rows[id];
                var waited = waits.TryGetValue(id, out var w) ? w.ToString("F1", CultureInfo.InvariantCulture) : "";
                table.AppendLine($"| {Short(id)} | {r.Status} | {r.Attempts} | {r.Images} | {r.SucceededEvents} | {r.HangfireJobs - 1} | {waited} |");
            }
            Console.Write(table);

            var succeededOnce = rows.Values.Count(r => r.Status == "succeeded" && r.SucceededEvents == 1 && r.Images == images);
            var failed = rows.Values.Count(r => r.Status == "failed");
            var longestWait = waits.Values.DefaultIfEmpty(0).Max();
            var redispatches = rows.Values.GroupBy(r => r.HangfireJobs - 1).OrderBy(g => g.Key)
                .Select(g => $"{g.Key}: {g.Count()} job(s)");
            Console.WriteLine();
            Console.WriteLine($"jobs succeeded exactly once:           {succeededOnce} / {ids.Count} (failed {failed}, unfinished {unfinished})");
            Console.WriteLine($"kills:                                 {_kills.Count}, {_kills.Count(k => k.Held.Count > 0)} of a worker holding a job ({_kills.Sum(k => k.Held.Count)} job(s) held)");
            Console.WriteLine($"re-dispatches per job:                 {string.Join(", ", redispatches)}");
            Console.WriteLine($"stale Hangfire jobs:                   {stale.Count}, not deleted {notDeleted}, taken from a live worker {fromLiveWorkers}");
            Console.WriteLine($"longest wait after a worker died:      {longestWait:F1} s (bound: HeartbeatTimeout + 2 × RecoveryInterval + longest run {longestRun:F1} s = {bound:F1} s)");
            Console.WriteLine($"longest heartbeat age of a live worker: Hangfire server {_longestServerHeartbeatAge:F2} s, running job row {_longestRowHeartbeatAge:F2} s (dead after {heartbeatTimeout.TotalSeconds:F0} s)");
            foreach (var s in stale.Where(s => s.State != "Deleted"))
                Console.WriteLine($"  stale Hangfire job {s.HangfireId} of job {Short(s.Job)} is {s.State}, last processed by {s.Server ?? "no server"}");
            var ok = succeededOnce == ids.Count && notDeleted == 0 && fromLiveWorkers == 0 && longestWait <= bound;
            Console.WriteLine(ok ? "chaos-workers: PASS" : "chaos-workers: FAIL");
            return ok ? 0 : 1;
        }

        private sealed record JobRow(Guid Id, string Status, int Attempts, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt,
            long Images, long SucceededEvents, long HangfireJobs);

        private static DateTimeOffset? Time(NpgsqlDataReader reader, int ordinal) =>
            reader.IsDBNull(ordinal) ? null : reader.GetFieldValue<DateTimeOffset>(ordinal);

        private static string Short(Guid id) => id.ToString("N")[^8..];

        private async Task<List<T>> QueryAsync<T>(string sql, Func<NpgsqlDataReader, T> read, params (string Name, object Value)[] parameters)
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(sql, connection);
            foreach (var (name, value) in parameters)
                command.Parameters.AddWithValue(name, value);
            await using var reader = await command.ExecuteReaderAsync();
            var results = new List<T>();
            while (await reader.ReadAsync())
                results.Add(read(reader));
            return results;
        }

        private static async Task<Guid> SubmitAsync(HttpClient client, string prompt, int seed, int steps, int images, int size)
        {
            var body = new JsonObject
            {
                ["prompt"] = prompt,
                ["width"] = size,
                ["height"] = size,
                ["steps"] = steps,
                ["num_images"] = images,
                ["seed"] = seed,
            };
            var response = await client.PostAsync("/v1/generations", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
            if (response.StatusCode != HttpStatusCode.Accepted)
                throw new InvalidOperationException($"POST /v1/generations answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            var job = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            return Guid.Parse(job["id"]!.GetValue<string>());
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var process in _processes)
                await process.DisposeAsync();
        }
    }
}
