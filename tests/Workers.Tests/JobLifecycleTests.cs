using System.Diagnostics;
using Easel.Core.Jobs;
using Easel.Inference.Pipelines;
using Easel.Workers.Generation;
using Easel.Workers.Jobs;
using Microsoft.EntityFrameworkCore;

namespace Easel.Workers.Tests;

/// <summary>Events, cancellation of a running job and the heartbeat, on the runner as production wires it (real SQLite).</summary>
public sealed class JobLifecycleTests
{
    /// <summary>A model that takes <paramref name="stepTime"/> per step and stops between steps when canceled.</summary>
    private static Func<TextToImageRequest, IProgress<DenoisingProgress>?, CancellationToken, IReadOnlyList<GeneratedImage>> Slow(
        TimeSpan stepTime, Action<int>? onStep = null) => (request, progress, ct) =>
    {
        for (var step = 1; step <= request.Steps; step++)
        {
            ct.ThrowIfCancellationRequested();
            Thread.Sleep(stepTime);
            onStep?.Invoke(step);
            progress?.Report(new DenoisingProgress(step, request.Steps));
        }
        return RunnerHarness.SolidColour(request with { Steps = 0 }, null, ct);
    };

    private static Task<List<JobEvent>> EventsAsync(RunnerHarness harness, Guid id) =>
        harness.WithDbAsync(db => db.JobEvents.AsNoTracking().Where(e => e.JobId == id).OrderBy(e => e.Id).ToListAsync());

    [Fact]
    public async Task Successful_run_records_started_progress_for_every_step_and_succeeded_in_order()
    {
        await using var harness = new RunnerHarness();
        var id = await harness.SubmitAsync(steps: 3);

        await harness.RunAsync(id);

        var events = await EventsAsync(harness, id);
        Assert.Equal(
            [JobEventType.Started, JobEventType.Progress, JobEventType.Progress, JobEventType.Progress, JobEventType.Progress, JobEventType.Succeeded],
            events.Select(e => e.Type));
        Assert.Contains("\"step\":3", events[^2].Data);
        Assert.Contains("\"status\":\"succeeded\"", events[^1].Data);
        Assert.Contains("/v1/images/", events[^1].Data); // the final event is the job document with its images
    }

    [Fact]
    public async Task Two_runners_racing_on_one_job_run_it_once_with_one_set_of_images()
    {
        await using var harness = new RunnerHarness(Slow(TimeSpan.FromMilliseconds(20)));
        var id = await harness.SubmitAsync(steps: 5);

        await Task.WhenAll(Task.Run(() => harness.RunAsync(id)), Task.Run(() => harness.RunAsync(id)));

        var job = await harness.JobAsync(id);
        Assert.Equal((JobStatus.Succeeded, 1), (job.Status, job.Attempts));
        Assert.Equal(1, harness.Loader.Calls);
        Assert.Single(job.Images);
        var events = await EventsAsync(harness, id);
        Assert.Single(events, e => e.Type == JobEventType.Started);
        Assert.Single(events, e => e.Type == JobEventType.Succeeded);
    }

    [Fact]
    public async Task Cancel_request_from_another_context_stops_the_run_within_a_step_and_the_worker_runs_the_next_job()
    {
        Guid id = default;
        RunnerHarness? harness = null;
        var stepsRun = 0;
        harness = new RunnerHarness(Slow(TimeSpan.FromMilliseconds(40), step =>
        {
            stepsRun = step;
            if (step == 3) // the API's cancel endpoint writes only the row; the database is the only channel
                harness!.WithDbAsync(db => db.Jobs.Where(j => j.Id == id)
                    .ExecuteUpdateAsync(s => s.SetProperty(j => j.CancelRequestedAt, DateTimeOffset.UtcNow).SetProperty(j => j.Version, Guid.NewGuid())))
                    .GetAwaiter().GetResult();
        }));
        await using var _ = harness;
        id = await harness.SubmitAsync(steps: 100);
        var next = await harness.SubmitAsync(steps: 2);

        await harness.RunAsync(id);

        var job = await harness.JobAsync(id);
        Assert.Equal(JobStatus.Canceled, job.Status);
        Assert.Equal(JobRunner.CanceledByClient, job.Error);
        Assert.NotNull(job.FinishedAt);
        Assert.Empty(job.Images);
        Assert.Equal(3, stepsRun); // step 3's progress write was refused: step 4 never started, however slow the poll
        Assert.Equal(JobEventType.Canceled, (await EventsAsync(harness, id))[^1].Type);

        await harness.RunAsync(next);
        Assert.Equal(JobStatus.Succeeded, (await harness.JobAsync(next)).Status);
    }

    [Fact]
    public async Task Cancel_after_deadline_passing_during_the_run_stops_it_as_canceled()
    {
        await using var harness = new RunnerHarness(Slow(TimeSpan.FromMilliseconds(30)));
        var id = await harness.SubmitAsync(steps: 150);
        await harness.WithDbAsync(db => db.Jobs.Where(j => j.Id == id)
            .ExecuteUpdateAsync(s => s.SetProperty(j => j.CancelAfter, DateTimeOffset.UtcNow.AddMilliseconds(400))));
        var clock = Stopwatch.StartNew();

        await harness.RunAsync(id);

        var job = await harness.JobAsync(id);
        Assert.Equal((JobStatus.Canceled, JobRunner.CancelAfterPassed), (job.Status, job.Error));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"The run took {clock.Elapsed} for a 0.4 s deadline.");
        Assert.InRange(job.ProgressStep, 1, 149);
    }

    [Fact]
    public async Task Job_past_its_cancel_after_when_delivered_is_canceled_without_running()
    {
        await using var harness = new RunnerHarness();
        var id = await harness.SubmitAsync();
        await harness.WithDbAsync(db => db.Jobs.Where(j => j.Id == id)
            .ExecuteUpdateAsync(s => s.SetProperty(j => j.CancelAfter, DateTimeOffset.UtcNow.AddSeconds(-1))));

        await harness.RunAsync(id);

        var job = await harness.JobAsync(id);
        Assert.Equal((JobStatus.Canceled, JobRunner.CancelAfterPassed, 0), (job.Status, job.Error, job.Attempts));
        Assert.Equal(0, harness.Loader.Calls);
        Assert.Equal([JobEventType.Canceled], (await EventsAsync(harness, id)).Select(e => e.Type));
    }

    [Fact]
    public async Task Running_job_gets_a_fresh_heartbeat_and_the_worker_name()
    {
        var heartbeats = new List<DateTimeOffset?>();
        Guid id = default;
        RunnerHarness? harness = null;
        harness = new RunnerHarness(Slow(TimeSpan.FromMilliseconds(100), step =>
        {
            if (step % 3 == 0)
                heartbeats.Add(harness!.JobAsync(id).GetAwaiter().GetResult().HeartbeatAt);
        }));
        await using var _ = harness;
        id = await harness.SubmitAsync(steps: 12);

        await harness.RunAsync(id);

        Assert.Equal(4, heartbeats.Count);
        Assert.All(heartbeats, h => Assert.NotNull(h));
        Assert.True(heartbeats[^1] > heartbeats[0], $"Heartbeats did not advance: {string.Join(", ", heartbeats)}");
        Assert.Equal(JobRunner.WorkerName, (await harness.JobAsync(id)).WorkerName);
    }

    [Fact]
    public async Task Job_taken_back_by_the_sweep_while_running_is_abandoned_without_writing_results()
    {
        Guid id = default;
        RunnerHarness? harness = null;
        harness = new RunnerHarness(Slow(TimeSpan.FromMilliseconds(40), step =>
        {
            if (step == 2) // what the recovery sweep does to a run it believes lost
                harness!.WithDbAsync(db => db.Jobs.Where(j => j.Id == id)
                    .ExecuteUpdateAsync(s => s.SetProperty(j => j.Status, JobStatus.Queued).SetProperty(j => j.Version, Guid.NewGuid())))
                    .GetAwaiter().GetResult();
        }));
        await using var _ = harness;
        id = await harness.SubmitAsync(steps: 100);

        await harness.RunAsync(id);

        var job = await harness.JobAsync(id);
        Assert.Equal((JobStatus.Queued, 1), (job.Status, job.Attempts));
        Assert.Empty(job.Images);
        Assert.DoesNotContain(await EventsAsync(harness, id), e => e.Type is JobEventType.Succeeded or JobEventType.Canceled);
    }
}
