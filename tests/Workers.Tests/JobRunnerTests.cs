using Easel.Core.Data;
using Easel.Core.Jobs;
using Easel.Core.Storage;
using Easel.Workers.Generation;
using Easel.Workers.Jobs;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace Easel.Workers.Tests;

public sealed class JobRunnerTests
{
    [Fact]
    public async Task Successful_run_stores_the_png_with_its_parameters_and_marks_the_job_succeeded()
    {
        await using var harness = new RunnerHarness();
        var id = await harness.SubmitAsync(steps: 4, numImages: 2);

        await harness.RunAsync(id);

        var job = await harness.JobAsync(id);
        Assert.Equal(JobStatus.Succeeded, job.Status);
        Assert.Equal((4, 4, 1), (job.ProgressStep, job.ProgressTotal, job.Attempts));
        Assert.NotNull(job.StartedAt);
        Assert.NotNull(job.FinishedAt);
        Assert.Null(job.Error);
        Assert.Equal([0, 1], job.Images.Select(i => i.Index).Order());
        var blobs = harness.Services.GetRequiredService<IBlobStore>();
        foreach (var image in job.Images)
        {
            await using var stream = blobs.OpenRead(image.BlobKey)!;
            using var png = await Image.LoadAsync<Rgb24>(stream);
            Assert.Equal((16, 8), (png.Width, png.Height));
            var seed = 1234L + image.Index; // per-image seeds: image i is the run with seed + i
            Assert.Equal((16, 8, seed, "image/png"), (image.Width, image.Height, image.Seed, image.ContentType));
            var text = png.Metadata.GetPngMetadata().TextData.ToDictionary(t => t.Keyword, t => t.Value);
            Assert.Equal($"a red circle\nNegative prompt: blurry\nSteps: 4, Sampler: DDIM, CFG scale: 7.5, Seed: {seed}, Size: 16x8, Model: good",
                text["parameters"]);
            Assert.Contains("\"num_images\":2", text["easel"]);
            Assert.Contains($"\"index\":{image.Index},\"seed\":{seed},", text["easel"]);
            Assert.Contains("\"seed_mode\":\"per_image\"", text["easel"]);
        }
    }

    [Fact]
    public async Task Batch_seed_mode_images_name_the_batch_seed_and_their_place_instead_of_a_seed_of_their_own()
    {
        await using var harness = new RunnerHarness();
        var id = await harness.SubmitAsync(steps: 2, numImages: 2, seedMode: Core.Generation.SeedMode.Batch);

        await harness.RunAsync(id);

        var job = await harness.JobAsync(id);
        var blobs = harness.Services.GetRequiredService<IBlobStore>();
        foreach (var image in job.Images)
        {
            Assert.Equal(1234L, image.Seed);
            await using var stream = blobs.OpenRead(image.BlobKey)!;
            using var png = await Image.LoadAsync<Rgb24>(stream);
            var text = png.Metadata.GetPngMetadata().TextData.ToDictionary(t => t.Keyword, t => t.Value);
            Assert.EndsWith($"CFG scale: 7.5, Batch seed: 1234, Batch size: 2, Batch pos: {image.Index}, Size: 16x8, Model: good", text["parameters"]);
            Assert.DoesNotContain("Seed:", text["parameters"]);
            Assert.Contains($"\"index\":{image.Index},\"seed\":null,", text["easel"]);
        }
    }

    [Fact]
    public async Task Failing_model_marks_the_job_failed_with_a_readable_reason_and_the_worker_keeps_serving()
    {
        await using var harness = new RunnerHarness();
        harness.Loader.ByModel["other"] = (_, _, _) => throw new NotSupportedException("Scheduler 'pndm' is not supported by this pipeline.");
        var failing = await harness.SubmitAsync(model: "other");
        var next = await harness.SubmitAsync(model: "good");

        await harness.RunAsync(failing); // returns normally: no Hangfire retry for a deterministic failure
        await harness.RunAsync(next);

        var failed = await harness.JobAsync(failing);
        Assert.Equal(JobStatus.Failed, failed.Status);
        Assert.Equal("Scheduler 'pndm' is not supported by this pipeline.", failed.Error);
        Assert.NotNull(failed.FinishedAt);
        Assert.Empty(failed.Images);
        Assert.Equal(JobStatus.Succeeded, (await harness.JobAsync(next)).Status);
    }

    [Fact]
    public async Task Unexpected_exception_is_reported_by_type_and_message_without_a_stack_trace()
    {
        await using var harness = new RunnerHarness((_, _, _) => throw new KeyNotFoundException("weight 'unet.conv_in.weight' is missing"));
        var id = await harness.SubmitAsync();

        await harness.RunAsync(id);

        var job = await harness.JobAsync(id);
        Assert.Equal(JobStatus.Failed, job.Status);
        Assert.Equal("KeyNotFoundException: weight 'unet.conv_in.weight' is missing", job.Error);
        Assert.DoesNotContain(" at ", job.Error);
    }

    [Fact]
    public async Task Duplicate_delivery_of_a_finished_job_does_nothing()
    {
        await using var harness = new RunnerHarness();
        var id = await harness.SubmitAsync();
        await harness.RunAsync(id);
        var first = await harness.JobAsync(id);

        await harness.RunAsync(id);

        var second = await harness.JobAsync(id);
        Assert.Equal(1, harness.Loader.Calls);
        Assert.Equal((first.Version, first.Attempts, first.FinishedAt), (second.Version, second.Attempts, second.FinishedAt));
        Assert.Single(second.Images);
    }

    [Fact]
    public async Task Delivery_while_another_worker_runs_the_job_does_nothing()
    {
        var harness = new RunnerHarness();
        await using var _ = harness;
        Guid id = default;
        harness.Loader.ByModel["good"] = (request, progress, ct) =>
        {
            // The same job delivered again while this run is in its denoising loop.
            harness.RunAsync(id).GetAwaiter().GetResult();
            return RunnerHarness.SolidColour(request, progress, ct);
        };
        id = await harness.SubmitAsync();

        await harness.RunAsync(id);

        var job = await harness.JobAsync(id);
        Assert.Equal(JobStatus.Succeeded, job.Status);
        Assert.Equal(1, job.Attempts);
        Assert.Equal(1, harness.Loader.Calls);
        Assert.Single(job.Images);
    }

    [Fact]
    public async Task Two_workers_that_read_the_queued_job_at_once_claim_it_exactly_once()
    {
        await using var harness = new RunnerHarness();
        var id = await harness.SubmitAsync();
        await using var scopeA = harness.Services.CreateAsyncScope();
        await using var scopeB = harness.Services.CreateAsyncScope();
        var jobA = await scopeA.ServiceProvider.GetRequiredService<EaselDbContext>().Jobs.SingleAsync(j => j.Id == id);
        var jobB = await scopeB.ServiceProvider.GetRequiredService<EaselDbContext>().Jobs.SingleAsync(j => j.Id == id);
        Assert.Equal(JobStatus.Queued, jobB.Status);

        var claimedByA = await scopeA.ServiceProvider.GetRequiredService<JobRunner>().TryClaimAsync(jobA, CancellationToken.None);
        var claimedByB = await scopeB.ServiceProvider.GetRequiredService<JobRunner>().TryClaimAsync(jobB, CancellationToken.None);

        Assert.True(claimedByA);
        Assert.False(claimedByB);
        var stored = await harness.JobAsync(id);
        Assert.Equal((JobStatus.Running, 1), (stored.Status, stored.Attempts));
    }

    [Fact]
    public async Task Model_is_loaded_once_for_many_jobs()
    {
        await using var harness = new RunnerHarness();
        foreach (var _ in Enumerable.Range(0, 3))
            await harness.RunAsync(await harness.SubmitAsync());

        Assert.Equal(1, harness.Loader.Loads);
        Assert.Equal(3, harness.Loader.Calls);
    }

    [Fact]
    public async Task Switching_models_unloads_the_previous_one_when_one_model_may_stay_loaded()
    {
        await using var harness = new RunnerHarness();

        await harness.RunAsync(await harness.SubmitAsync(model: "good"));
        await harness.RunAsync(await harness.SubmitAsync(model: "other"));
        await harness.RunAsync(await harness.SubmitAsync(model: "other"));

        Assert.Equal(2, harness.Loader.Loads);
        Assert.Equal(["good"], harness.Loader.Unloaded);
    }

    [Fact]
    public async Task Shutdown_during_a_run_puts_the_job_back_in_the_queue_for_redelivery()
    {
        using var shutdown = new CancellationTokenSource();
        await using var harness = new RunnerHarness((request, progress, ct) =>
        {
            shutdown.Cancel();
            return RunnerHarness.SolidColour(request, progress, ct);
        });
        var id = await harness.SubmitAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => harness.RunAsync(id, shutdown.Token));

        var job = await harness.JobAsync(id);
        Assert.Equal(JobStatus.Queued, job.Status);
        Assert.Null(job.StartedAt);
    }

    [Fact]
    public async Task A_job_for_a_model_this_worker_does_not_serve_is_dispatched_to_that_model_queue_instead_of_failing()
    {
        await using var harness = new RunnerHarness();
        var id = await harness.SubmitAsync(model: "elsewhere");

        await harness.RunAsync(id);

        var job = await harness.JobAsync(id);
        Assert.Equal((JobStatus.Queued, 0, null), (job.Status, job.Attempts, job.Error));
        Assert.Equal(0, harness.Loader.Loads);
        using var connection = harness.Services.GetRequiredService<Hangfire.JobStorage>().GetConnection();
        Assert.Equal("gpu_2_normal_elsewhere", connection.GetJobData(job.DispatchId!)!.Job.Queue);
    }

    [Fact]
    public async Task Missing_job_is_ignored()
    {
        await using var harness = new RunnerHarness();

        await harness.RunAsync(Guid.NewGuid());

        Assert.Equal(0, harness.Loader.Loads);
    }

    [Fact]
    public async Task Progress_is_written_to_the_job_row_during_the_run()
    {
        var seen = new List<(int Step, int Total)>();
        RunnerHarness? harness = null;
        Guid id = default;
        harness = new RunnerHarness((request, progress, ct) =>
        {
            for (var step = 1; step <= request.Steps; step++)
            {
                progress?.Report(new Inference.Pipelines.DenoisingProgress(step, request.Steps));
                var row = harness!.JobAsync(id).GetAwaiter().GetResult();
                seen.Add((row.ProgressStep, row.ProgressTotal));
            }
            return RunnerHarness.SolidColour(request with { Steps = 0 }, null, ct);
        });
        await using var _ = harness;
        id = await harness.SubmitAsync(steps: 3);

        await harness.RunAsync(id);

        Assert.Equal([(1, 3), (2, 3), (3, 3)], seen);
    }
}
