using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Easel.Core.Generation;
using Easel.Core.Jobs;
using Easel.Testing;
using Easel.Workers;
using Easel.Workers.Generation;
using Easel.Workers.Jobs;
using Easel.Workers.Recovery;
using Hangfire;
using Hangfire.States;
using Microsoft.AspNetCore.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Easel.EndToEnd.Tests;

/// <summary>
/// The worker side of jobs through the real service: its in-process Hangfire server runs the sd15 fixture model, and the
/// recovery sweep runs as a hosted service. Intervals are short so that the tests take seconds.
/// </summary>
public abstract class JobRuntimeTests<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : EaselApiFactory
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(2);

    private static Job NewJob(int steps = 2) =>
        Job.Create(JobKind.Generation, new GenerationParameters("a red circle", "", "sd15", 64, 64, steps, 7.5, 42, "ddim", 1),
            DateTimeOffset.UtcNow);

    private Task InsertAsync(Job job) => Factory.WithDbAsync(async db =>
    {
        db.Jobs.Add(job);
        JobEventLog.Append(db, job, JobEventType.Queued, job.CreatedAt);
        return await db.SaveChangesAsync();
    });

    private Task<Job> JobAsync(Guid id) =>
        Factory.WithDbAsync(db => db.Jobs.AsNoTracking().Include(j => j.Images).SingleAsync(j => j.Id == id));

    private Task<List<JobEvent>> EventsAsync(Guid id) =>
        Factory.WithDbAsync(db => db.JobEvents.AsNoTracking().Where(e => e.JobId == id).OrderBy(e => e.Id).ToListAsync());

    private async Task<Job> UntilAsync(Guid id, Func<Job, bool> done)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var job = await JobAsync(id);
            if (done(job))
                return job;
            if (clock.Elapsed > Deadline)
                throw new TimeoutException($"Job {id} is {job.Status} (step {job.ProgressStep}/{job.ProgressTotal}) after {Deadline}.");
            await Task.Delay(50);
        }
    }

    /// <summary>A Hangfire job that would run the job, created straight in <paramref name="state"/> (in no queue).</summary>
    private string CreateHangfireJob(Guid jobId, IState state) =>
        Factory.Services.GetRequiredService<IBackgroundJobClient>()
            .Create(Hangfire.Common.Job.FromExpression<JobRunner>(r => r.RunAsync(jobId, CancellationToken.None)), state);

    private string? HangfireState(string hangfireJobId)
    {
        using var connection = Factory.Services.GetRequiredService<JobStorage>().GetConnection();
        return connection.GetJobData(hangfireJobId)?.State;
    }

    /// <summary>Hangfire's Processing state as a worker of <paramref name="serverId"/> writes it when it fetches a job.</summary>
    private sealed class ProcessingOn(string serverId) : IState
    {
        public string Name => ProcessingState.StateName;

        public string? Reason => null;

        public bool IsFinal => false;

        public bool IgnoreJobLoadException => false;

        public Dictionary<string, string> SerializeData() => new()
        {
            ["StartedAt"] = Hangfire.Common.JobHelper.SerializeDateTime(DateTime.UtcNow),
            ["ServerId"] = serverId,
            ["WorkerId"] = Guid.NewGuid().ToString(),
        };
    }

    /// <summary>What <c>POST /v1/jobs/{id}/cancel</c> does to a running job: it writes the request; the worker reads it.</summary>
    private Task RequestCancelAsync(Guid id) =>
        Factory.WithDbAsync(db => db.Jobs.Where(j => j.Id == id).ExecuteUpdateAsync(s => s
            .SetProperty(j => j.CancelRequestedAt, DateTimeOffset.UtcNow).SetProperty(j => j.Version, Guid.NewGuid())));

    private async Task<Guid> SubmitAsync(Action<System.Text.Json.Nodes.JsonObject>? change = null)
    {
        var body = ValidRequest();
        change?.Invoke(body);
        var response = await PostGenerationAsync(body);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await ReadJsonAsync(response)).GetProperty("id").GetGuid();
    }

    private sealed record SseEvent(long Id, string Type, JsonElement Data);

    private static List<SseEvent> ParseSse(string text) =>
        text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(block => block.Split('\n').Where(l => !l.StartsWith(':')).ToList())
            .Where(lines => lines.Count > 0)
            .Select(lines =>
            {
                string Field(string name) => lines.Single(l => l.StartsWith(name + ": ", StringComparison.Ordinal))[(name.Length + 2)..];
                return new SseEvent(long.Parse(Field("id")), Field("event"), JsonDocument.Parse(Field("data")).RootElement.Clone());
            })
            .ToList();

    private async Task<(HttpResponseMessage Response, List<SseEvent> Events)> ReadStreamAsync(string url, string? lastEventId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (lastEventId is not null)
            request.Headers.Add("Last-Event-ID", lastEventId);
        using var timeout = new CancellationTokenSource(Deadline);
        var response = await Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        var text = await response.Content.ReadAsStringAsync(timeout.Token); // the stream ends after the final event
        return (response, response.IsSuccessStatusCode ? ParseSse(text) : []);
    }

    [Fact]
    public async Task Event_stream_replays_queued_started_progress_previews_and_succeeded_in_order_then_ends()
    {
        var id = await SubmitAsync(b => b["steps"] = 4);

        var (response, events) = await ReadStreamAsync($"/v1/jobs/{id}/events");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("queued", events[0].Type);
        Assert.Equal("started", events[1].Type);
        Assert.Equal("succeeded", events[^1].Type);
        Assert.Equal(events.Select(e => e.Id).Order(), events.Select(e => e.Id));
        Assert.All(events[2..^1], e => Assert.Contains(e.Type, new[] { "progress", "preview" }));
        Assert.Equal([0, 1, 2, 3, 4], events.Where(e => e.Type == "progress").Select(e => e.Data.GetProperty("step").GetInt32()));
        var previews = events.Where(e => e.Type == "preview").ToList();
        Assert.Equal([1, 2, 3], previews.Select(e => e.Data.GetProperty("step").GetInt32())); // every step but the last (PreviewEvery = 1)
        foreach (var preview in previews)
        {
            var uri = preview.Data.GetProperty("image").GetString()!;
            Assert.StartsWith("data:image/png;base64,", uri);
            using var png = Image.Load<Rgb24>(Convert.FromBase64String(uri["data:image/png;base64,".Length..]));
            Assert.Equal((preview.Data.GetProperty("width").GetInt32(), preview.Data.GetProperty("height").GetInt32()), (png.Width, png.Height));
            Assert.True(png.Width < 64 && 64 % png.Width == 0 && png.Height == png.Width, $"{png.Width}×{png.Height}"); // one pixel per latent cell
            Assert.Equal(4, preview.Data.GetProperty("total").GetInt32());
        }
        Assert.Equal(id, events[^1].Data.GetProperty("id").GetGuid());
        Assert.Single(events[^1].Data.GetProperty("images").EnumerateArray());
    }

    [Fact]
    public async Task Resuming_with_last_event_id_returns_only_later_events()
    {
        var id = await SubmitAsync(b => b["steps"] = 3);
        var (_, all) = await ReadStreamAsync($"/v1/jobs/{id}/events");
        var started = all.Single(e => e.Type == "started");

        var (_, fromHeader) = await ReadStreamAsync($"/v1/jobs/{id}/events", started.Id.ToString());
        var (_, fromQuery) = await ReadStreamAsync($"/v1/jobs/{id}/events?last_event_id={started.Id}");

        var expected = all.SkipWhile(e => e.Id <= started.Id).Select(e => (e.Id, e.Type)).ToList();
        Assert.Equal(expected, fromHeader.Select(e => (e.Id, e.Type)));
        Assert.Equal(expected, fromQuery.Select(e => (e.Id, e.Type)));
        Assert.Equal("succeeded", expected[^1].Type);

        var (afterEnd, nothing) = await ReadStreamAsync($"/v1/jobs/{id}/events", all[^1].Id.ToString()); // past the final event
        Assert.Equal(HttpStatusCode.OK, afterEnd.StatusCode);
        Assert.Empty(nothing);
    }

    [Fact]
    public async Task Event_stream_of_an_unknown_job_or_of_another_owner_is_404()
    {
        var foreign = NewJob();
        foreign.Owner = "another-key";
        await InsertAsync(foreign);

        var unknown = await Client.GetAsync($"/v1/jobs/{Guid.NewGuid()}/events");
        var other = await Client.GetAsync($"/v1/jobs/{foreign.Id}/events");

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        Assert.Equal("application/problem+json", other.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Event_stream_with_a_last_event_id_that_is_not_an_event_id_is_400_naming_it()
    {
        var job = NewJob();
        job.Status = JobStatus.Canceled;
        await InsertAsync(job);

        var response = await Client.GetAsync($"/v1/jobs/{job.Id}/events?last_event_id=abc");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await ReadJsonAsync(response)).GetProperty("errors").TryGetProperty("last_event_id", out _));
    }

    [Fact]
    public async Task Running_job_with_a_cancel_request_stops_within_a_step_ends_canceled_and_the_worker_runs_the_next_job()
    {
        var id = await SubmitAsync(b => b["steps"] = 150);
        var running = await UntilAsync(id, j => j.Status == JobStatus.Running && j.ProgressStep >= 2 || j.IsFinished);
        Assert.Equal(JobStatus.Running, running.Status);

        var requestedAt = Stopwatch.StartNew();
        await RequestCancelAsync(id);
        var stepAtRequest = (await JobAsync(id)).ProgressStep;
        var canceled = await UntilAsync(id, j => j.IsFinished);

        Assert.Equal((JobStatus.Canceled, JobRunner.CanceledByClient), (canceled.Status, canceled.Error));
        Assert.Empty(canceled.Images);
        var history = string.Join(", ", (await EventsAsync(id)).Select(e => $"{e.Type} {e.Data[..Math.Min(60, e.Data.Length)]}"));
        Assert.True(canceled.ProgressStep >= stepAtRequest && canceled.ProgressStep <= stepAtRequest + 2,
            $"Step {canceled.ProgressStep} (request at {stepAtRequest}), attempts {canceled.Attempts}: {history}");
        Assert.True(requestedAt.Elapsed < TimeSpan.FromSeconds(10), $"Stopping took {requestedAt.Elapsed}.");
        Assert.Equal("canceled", JobEventsNameOfLast(await EventsAsync(id)));

        var next = await SubmitAsync();
        Assert.Equal(JobStatus.Succeeded, (await UntilAsync(next, j => j.IsFinished)).Status);
    }

    private static string JobEventsNameOfLast(List<JobEvent> events) => Easel.Api.Apis.JobEventsApi.EventName(events[^1].Type);

    [Fact]
    public async Task Queued_job_past_cancel_after_is_canceled_by_the_sweep()
    {
        var job = NewJob();
        job.CancelAfter = DateTimeOffset.UtcNow.AddSeconds(-1); // never dispatched: only the sweep can end it

        await InsertAsync(job);
        var canceled = await UntilAsync(job.Id, j => j.IsFinished);

        Assert.Equal((JobStatus.Canceled, JobRunner.CancelAfterPassed, 0), (canceled.Status, canceled.Error, canceled.Attempts));
        Assert.Null(canceled.DispatchId);
        Assert.Equal([JobEventType.Queued, JobEventType.Canceled], (await EventsAsync(job.Id)).Select(e => e.Type));
    }

    [Fact]
    public async Task Running_job_with_a_stale_heartbeat_is_queued_again_and_succeeds_exactly_once()
    {
        var job = NewJob();
        var lostAt = DateTimeOffset.UtcNow.AddMinutes(-1);
        (job.Status, job.Attempts, job.StartedAt, job.HeartbeatAt, job.WorkerName) = (JobStatus.Running, 1, lostAt, lostAt, "lost-worker:1");

        await InsertAsync(job);
        var done = await UntilAsync(job.Id, j => j.IsFinished);

        Assert.Equal((JobStatus.Succeeded, 2), (done.Status, done.Attempts));
        Assert.Single(done.Images);
        Assert.Equal(JobRunner.WorkerName, done.WorkerName);
        var types = (await EventsAsync(job.Id)).Select(e => e.Type).ToList();
        Assert.Equal([JobEventType.Queued, JobEventType.Queued, JobEventType.Started], types[..3]);
        Assert.Single(types, JobEventType.Succeeded);
        await Task.Delay(TimeSpan.FromSeconds(1)); // a few more sweeps: nothing runs it again
        var later = await JobAsync(job.Id);
        Assert.Equal((JobStatus.Succeeded, 2, 1), (later.Status, later.Attempts, later.Images.Count));
    }

    [Fact]
    public async Task Lost_run_that_used_all_its_attempts_fails_with_a_readable_reason()
    {
        var job = NewJob();
        var lostAt = DateTimeOffset.UtcNow.AddMinutes(-1);
        (job.Status, job.Attempts, job.StartedAt, job.HeartbeatAt, job.WorkerName) = (JobStatus.Running, 3, lostAt, lostAt, "lost-worker:1");

        await InsertAsync(job);
        var failed = await UntilAsync(job.Id, j => j.IsFinished);

        Assert.Equal(JobStatus.Failed, failed.Status);
        Assert.Equal("The worker running this job stopped responding 3 time(s) (last: lost-worker:1); giving up after 3 attempts.", failed.Error);
        Assert.Equal(JobEventType.Failed, (await EventsAsync(job.Id))[^1].Type);
    }

    [Fact]
    public async Task Queued_job_whose_hangfire_job_vanished_is_dispatched_again_and_succeeds_once()
    {
        var job = NewJob();
        job.CreatedAt = DateTimeOffset.UtcNow.AddMinutes(-1);
        (job.DispatchId, job.DispatchedAt) = ("987654321", job.CreatedAt); // what an in-memory store forgets on restart

        await InsertAsync(job);
        var done = await UntilAsync(job.Id, j => j.IsFinished);

        Assert.Equal((JobStatus.Succeeded, 1), (done.Status, done.Attempts));
        Assert.NotEqual("987654321", done.DispatchId);
        Assert.Single(done.Images);
    }

    [Fact]
    public async Task Queued_job_fetched_by_a_server_that_is_gone_is_dispatched_again_and_its_stale_hangfire_job_deleted()
    {
        var job = NewJob();
        var stale = CreateHangfireJob(job.Id, new ProcessingOn($"easel-worker-device-gone-{Guid.NewGuid():N}:1:{Guid.NewGuid()}"));
        (job.DispatchId, job.DispatchedAt) = (stale, DateTimeOffset.UtcNow); // just fetched, then its process was killed

        await InsertAsync(job);
        var done = await UntilAsync(job.Id, j => j.IsFinished);

        Assert.Equal((JobStatus.Succeeded, 1), (done.Status, done.Attempts));
        Assert.Single(done.Images);
        Assert.NotEqual(stale, done.DispatchId);
        Assert.Equal(DeletedState.StateName, HangfireState(stale));
        Assert.Single(await EventsAsync(job.Id), e => e.Type == JobEventType.Started);
    }

    [Fact]
    public async Task Queued_job_waiting_in_a_queue_no_worker_reads_is_dispatched_to_its_model_queue_and_the_old_hangfire_job_deleted()
    {
        var job = NewJob();
        // Enqueued before jobs were routed by model: the band's old queue name, which no device server lists any more.
        var unread = CreateHangfireJob(job.Id, new EnqueuedState(WorkerQueues.GpuNormal));
        job.CreatedAt = DateTimeOffset.UtcNow.AddMinutes(-1);
        (job.DispatchId, job.DispatchedAt) = (unread, job.CreatedAt);

        await InsertAsync(job);
        var done = await UntilAsync(job.Id, j => j.IsFinished);

        Assert.Equal((JobStatus.Succeeded, 1), (done.Status, done.Attempts));
        Assert.NotEqual(unread, done.DispatchId);
        Assert.Equal(DeletedState.StateName, HangfireState(unread));
    }

    [Fact]
    public async Task Queued_job_waiting_long_in_its_own_model_queue_is_left_there()
    {
        // A model no server of this host serves: its job stays enqueued on its own queue however long it waits.
        var job = Job.Create(JobKind.Generation, new GenerationParameters("a red circle", "", "elsewhere", 64, 64, 2, 7.5, 42, "ddim", 1),
            DateTimeOffset.UtcNow.AddHours(-1));
        await InsertAsync(job);
        var enqueued = Factory.Services.GetRequiredService<IJobDispatcher>().Dispatch(job);
        await Factory.WithDbAsync(db => db.Jobs.Where(j => j.Id == job.Id)
            .ExecuteUpdateAsync(u => u.SetProperty(j => j.DispatchedAt, DateTimeOffset.UtcNow.AddHours(-1))));

        await using (var scope = Factory.Services.CreateAsyncScope())
        {
            var sweep = scope.ServiceProvider.GetRequiredService<JobRecoverySweep>();
            for (var i = 0; i < 3; i++)
                Assert.Equal(0, (await sweep.RunOnceAsync(CancellationToken.None)).Redispatched);
        }

        Assert.Equal((JobStatus.Queued, enqueued), ((await JobAsync(job.Id)).Status, (await JobAsync(job.Id)).DispatchId));
        Assert.Equal(EnqueuedState.StateName, HangfireState(enqueued));
        await Factory.WithDbAsync(db => db.Jobs.Where(j => j.Id == job.Id).ExecuteDeleteAsync());
        Factory.Services.GetRequiredService<IBackgroundJobClient>().Delete(enqueued);
    }

    [Fact]
    public async Task Queued_job_fetched_by_a_live_server_is_left_to_that_server()
    {
        var job = NewJob();
        var storage = Factory.Services.GetRequiredService<JobStorage>();
        var live = storage.GetMonitoringApi().Servers().First(s => s.Queues.Any(q => q.StartsWith(WorkerQueues.GpuNormal, StringComparison.Ordinal))).Name;
        var held = CreateHangfireJob(job.Id, new ProcessingOn(live));
        job.CreatedAt = DateTimeOffset.UtcNow.AddMinutes(-1);
        (job.DispatchId, job.DispatchedAt) = (held, job.CreatedAt);
        await InsertAsync(job);

        await using (var scope = Factory.Services.CreateAsyncScope())
        {
            var sweep = scope.ServiceProvider.GetRequiredService<JobRecoverySweep>();
            for (var i = 0; i < 5; i++)
                Assert.Equal(0, (await sweep.RunOnceAsync(CancellationToken.None)).Redispatched);
        }
        var untouched = await JobAsync(job.Id);

        Assert.Equal((JobStatus.Queued, held), (untouched.Status, untouched.DispatchId));
        Assert.Equal(ProcessingState.StateName, HangfireState(held));
        // Hand the job back to the sweep so that the fixture's worker is left with nothing pending.
        Factory.Services.GetRequiredService<IBackgroundJobClient>().Delete(held);
        Assert.Equal(JobStatus.Succeeded, (await UntilAsync(job.Id, j => j.IsFinished)).Status);
    }

    [Fact]
    public async Task Two_sweepers_racing_on_an_orphaned_job_dispatch_it_once_and_it_runs_once()
    {
        var job = NewJob();
        job.CreatedAt = DateTimeOffset.UtcNow.AddMinutes(-1); // never dispatched: the API died between commit and enqueue
        await InsertAsync(job);

        async Task<JobRecoverySweep.Outcome> SweepAsync()
        {
            await using var scope = Factory.Services.CreateAsyncScope();
            return await scope.ServiceProvider.GetRequiredService<JobRecoverySweep>().RunOnceAsync(CancellationToken.None);
        }
        var outcomes = await Task.WhenAll(Task.Run(SweepAsync), Task.Run(SweepAsync));
        var done = await UntilAsync(job.Id, j => j.IsFinished);

        Assert.InRange(outcomes.Sum(o => o.Redispatched), 0, 1); // the hosted sweep may have been first
        Assert.Equal((JobStatus.Succeeded, 1), (done.Status, done.Attempts));
        Assert.Single(done.Images);
        Assert.NotNull(done.DispatchId);
        Assert.Single(await EventsAsync(job.Id), e => e.Type == JobEventType.Started);
    }

    [Fact]
    public async Task Waiting_jobs_start_in_priority_order_high_then_normal_then_low()
    {
        // A long blocker, canceled once the three wait behind it: the order does not hang on how fast this machine is.
        var blocker = await SubmitAsync(b => b["steps"] = 150);
        await UntilAsync(blocker, j => j.Status == JobStatus.Running || j.IsFinished);
        var low = await SubmitAsync(b => b["priority"] = -1);
        var normal = await SubmitAsync();
        var high = await SubmitAsync(b => b["priority"] = 1);
        Assert.Equal(JobStatus.Running, (await JobAsync(blocker)).Status); // all three waited behind it
        await RequestCancelAsync(blocker);

        var started = new List<(Guid Id, DateTimeOffset At)>();
        foreach (var id in new[] { low, normal, high })
        {
            var job = await UntilAsync(id, j => j.IsFinished);
            Assert.Equal(JobStatus.Succeeded, job.Status);
            started.Add((id, job.StartedAt!.Value));
        }

        Assert.Equal([high, normal, low], started.OrderBy(s => s.At).Select(s => s.Id));
    }

    [Fact]
    public async Task Dispatch_records_the_hangfire_job_and_picks_the_queue_of_the_priority_band_and_model()
    {
        var high = await SubmitAsync(b => b["priority"] = 5);
        var normal = await SubmitAsync();
        var low = await SubmitAsync(b => b["priority"] = -5);

        var storage = Factory.Services.GetRequiredService<JobStorage>();
        using var connection = storage.GetConnection();
        string QueueOf(Job job) => connection.GetJobData(job.DispatchId!)!.Job.Queue;
        var rows = await Task.WhenAll(JobAsync(high), JobAsync(normal), JobAsync(low));
        Assert.All(rows, r => Assert.NotNull(r.DispatchedAt));
        Assert.Equal(["gpu_1_high_sd15", "gpu_2_normal_sd15", "gpu_3_low_sd15"], rows.Select(QueueOf));
        foreach (var id in new[] { high, normal, low })
            await UntilAsync(id, j => j.IsFinished);
    }
}

/// <summary>The service with its in-process worker and short worker intervals.</summary>
public abstract class RuntimeFactory : EaselApiFactory
{
    protected override bool InProcessWorkers => true;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Easel:Workers:ProgressInterval", "00:00:00");
        builder.UseSetting("Easel:Workers:PreviewEvery", "1");
        builder.UseSetting("Easel:Workers:CancelPollInterval", "00:00:00.050");
        builder.UseSetting("Easel:Workers:HeartbeatInterval", "00:00:00.200");
        builder.UseSetting("Easel:Workers:HeartbeatTimeout", "00:00:06"); // generous: this machine's cores are shared
        builder.UseSetting("Easel:Workers:RecoveryInterval", "00:00:00.300");
        builder.UseSetting("Easel:Workers:MaxAttempts", "3");
    }
}

public sealed class SqliteRuntimeFactory : RuntimeFactory
{
    protected override Task<TestDatabase> CreateDatabaseAsync() => Task.FromResult(TestDatabase.Sqlite(DataDir));
}

public sealed class PostgresRuntimeFactory : RuntimeFactory
{
    protected override Task<TestDatabase> CreateDatabaseAsync() => TestDatabase.CreatePostgresAsync();
}

public sealed class JobRuntimeTestsOnSqlite(SqliteRuntimeFactory factory) : JobRuntimeTests<SqliteRuntimeFactory>(factory);

public sealed class JobRuntimeTestsOnPostgres(PostgresRuntimeFactory factory) : JobRuntimeTests<PostgresRuntimeFactory>(factory);
