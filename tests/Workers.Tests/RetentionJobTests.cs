using System.Text;
using Easel.Core;
using Easel.Core.Data;
using Easel.Core.FineTunes;
using Easel.Core.Generation;
using Easel.Core.Images;
using Easel.Core.Jobs;
using Easel.Core.Storage;
using Easel.Testing;
using Easel.Workers.Housekeeping;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Easel.Workers.Tests;

/// <summary>The retention job on a real database of each provider, with a clock the test moves.</summary>
public sealed class RetentionJobTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 10, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Images_blobs_and_events_of_jobs_finished_before_the_ttl_are_deleted_and_newer_ones_kept(string provider)
    {
        await using var env = await RetentionEnvironment.CreateAsync(provider);
        var old = await env.AddFinishedJobAsync(JobStatus.Succeeded, "old result");
        env.Time.Advance(TimeSpan.FromDays(3));
        var recent = await env.AddFinishedJobAsync(JobStatus.Succeeded, "recent result");
        env.Time.Advance(TimeSpan.FromDays(4) + TimeSpan.FromHours(1)); // old: 7 d 1 h ago, recent: 4 d 1 h ago

        var report = await env.RunAsync();

        Assert.Equal(new RetentionReport(1, 1, 2, 1, 0), report);
        Assert.False(env.Blobs.Exists(old.Blob));
        Assert.True(env.Blobs.Exists(recent.Blob));
        var (images, events) = await env.CountsAsync(old.JobId);
        Assert.Equal((0, 0), (images, events));
        Assert.Equal((1, 2), await env.CountsAsync(recent.JobId));
        // The job itself stays, so that GET /v1/jobs/{id} still tells what happened.
        Assert.Equal(JobStatus.Succeeded, (await env.JobAsync(old.JobId)).Status);

        var again = await env.RunAsync();
        Assert.Equal(new RetentionReport(0, 0, 0, 0, 0), again);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_blob_is_kept_while_a_remaining_image_or_a_live_jobs_input_refers_to_it(string provider)
    {
        await using var env = await RetentionEnvironment.CreateAsync(provider);
        var sharedInput = await env.PutAsync("input used twice");
        var ownInput = await env.PutAsync("input used once");
        var oldWithSharedResult = await env.AddFinishedJobAsync(JobStatus.Succeeded, "same pixels");
        var oldEditWithSharedInput = await env.AddFinishedJobAsync(JobStatus.Failed, result: null, input: sharedInput);
        var oldEditWithOwnInput = await env.AddFinishedJobAsync(JobStatus.Canceled, result: null, input: ownInput);
        env.Time.Advance(TimeSpan.FromDays(8));
        var newWithSharedResult = await env.AddFinishedJobAsync(JobStatus.Succeeded, "same pixels");
        var queuedEditWithSharedInput = await env.AddQueuedJobAsync(input: sharedInput);
        env.Time.Advance(TimeSpan.FromHours(1)); // past the blob grace period

        var report = await env.RunAsync();

        Assert.Equal(3, report.Jobs);
        Assert.Equal(1, report.Images);
        Assert.Equal(1, report.Blobs);
        Assert.Equal(oldWithSharedResult.Blob, newWithSharedResult.Blob);
        Assert.True(env.Blobs.Exists(newWithSharedResult.Blob));
        Assert.True(env.Blobs.Exists(sharedInput));
        Assert.False(env.Blobs.Exists(ownInput));
        Assert.Equal((0, 0), await env.CountsAsync(oldWithSharedResult.JobId));
        Assert.Equal((0, 0), await env.CountsAsync(oldEditWithSharedInput.JobId));
        Assert.Equal((0, 0), await env.CountsAsync(oldEditWithOwnInput.JobId));
        Assert.Equal((1, 2), await env.CountsAsync(newWithSharedResult.JobId));
        Assert.Equal((0, 1), await env.CountsAsync(queuedEditWithSharedInput));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_running_fine_tunes_training_image_survives_an_expired_job_with_the_same_content_and_an_expired_fine_tunes_own_images_go(string provider)
    {
        await using var env = await RetentionEnvironment.CreateAsync(provider);
        var shared = await env.PutAsync("training image used twice");
        var ownTraining = await env.PutAsync("training image of an old fine-tune");
        var oldEdit = await env.AddFinishedJobAsync(JobStatus.Succeeded, result: null, input: shared);
        var oldFineTune = await env.AddJobAsync(Job.Create(JobKind.FineTune, FineTune(ownTraining), env.Time.GetUtcNowMilliseconds()), JobStatus.Succeeded);
        env.Time.Advance(TimeSpan.FromDays(8));
        var running = await env.AddJobAsync(Job.Create(JobKind.FineTune, FineTune(shared), env.Time.GetUtcNowMilliseconds()), JobStatus.Running);
        env.Time.Advance(TimeSpan.FromHours(1)); // past the blob grace period

        var report = await env.RunAsync();

        Assert.Equal(2, report.Jobs);
        Assert.True(env.Blobs.Exists(shared), "the running fine-tune's training image was deleted");
        Assert.False(env.Blobs.Exists(ownTraining), "the expired fine-tune's training image was kept");
        Assert.Equal((0, 0), await env.CountsAsync(oldEdit.JobId));
        Assert.Equal((0, 0), await env.CountsAsync(oldFineTune));
        Assert.Equal((0, 1), await env.CountsAsync(running));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_queued_generations_control_and_adapter_images_survive_an_expired_job_with_the_same_content_and_an_expired_ones_go(string provider)
    {
        await using var env = await RetentionEnvironment.CreateAsync(provider);
        var shared = await env.PutAsync("edge map used twice");
        var sharedAdapter = await env.PutAsync("palette used twice");
        var ownControl = await env.PutAsync("edge map of an old generation");
        var ownAdapter = await env.PutAsync("palette of an old generation");
        var oldEdit = await env.AddFinishedJobAsync(JobStatus.Succeeded, result: null, input: shared);
        var oldPalette = await env.AddFinishedJobAsync(JobStatus.Succeeded, result: null, input: sharedAdapter);
        var oldControlled = await env.AddJobAsync(Job.Create(JobKind.Generation, Controlled(ownControl, ownAdapter), env.Time.GetUtcNowMilliseconds()), JobStatus.Succeeded);
        env.Time.Advance(TimeSpan.FromDays(8));
        var queued = await env.AddJobAsync(Job.Create(JobKind.Generation, Controlled(shared, sharedAdapter), env.Time.GetUtcNowMilliseconds()), JobStatus.Queued);
        env.Time.Advance(TimeSpan.FromHours(1)); // past the blob grace period

        var report = await env.RunAsync();

        Assert.Equal(3, report.Jobs);
        Assert.True(env.Blobs.Exists(shared), "the queued generation's control image was deleted");
        Assert.True(env.Blobs.Exists(sharedAdapter), "the queued generation's adapter image was deleted");
        Assert.False(env.Blobs.Exists(ownControl), "the expired generation's control image was kept");
        Assert.False(env.Blobs.Exists(ownAdapter), "the expired generation's adapter image was kept");
        Assert.Equal((0, 0), await env.CountsAsync(oldEdit.JobId));
        Assert.Equal((0, 0), await env.CountsAsync(oldPalette.JobId));
        Assert.Equal((0, 0), await env.CountsAsync(oldControlled));
        Assert.Equal((0, 1), await env.CountsAsync(queued));
    }

    private static GenerationParameters Controlled(string controlImage, string adapterImage) =>
        new("a red circle", "", "sd15", 64, 64, 2, 7.5, 1, "ddim", 1,
            Controlnets: [new ControlNetUse("controlnet_sd15", new StoredInputImage(controlImage, 64, 64), 1, 0, 1, false, "balanced", "none", "crop")],
            Adapters: [new AdapterUse("t2i_adapter_full", new StoredInputImage(adapterImage, 64, 64), 1, 1, "color", "crop")]);

    private static FineTuneParameters FineTune(string image) =>
        new("lora", "sd15", [new StoredInputImage(image, 64, 64)], ["a sks ring"], null, null, 10, 1e-3, 1, 64, 4, 4, null, 1, [], 10, null);

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_blob_put_again_within_the_grace_period_survives_although_no_row_refers_to_it_yet(string provider)
    {
        await using var env = await RetentionEnvironment.CreateAsync(provider);
        var old = await env.AddFinishedJobAsync(JobStatus.Succeeded, "identical result");
        env.Time.Advance(TimeSpan.FromDays(8));
        // A worker has just stored the same content for a new job and has not inserted its image row yet.
        await env.PutAsync("identical result");
        env.Time.Advance(TimeSpan.FromMinutes(2));

        var report = await env.RunAsync();

        Assert.Equal(1, report.Images);
        Assert.Equal(0, report.Blobs);
        Assert.True(env.Blobs.Exists(old.Blob));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Idempotency_keys_older_than_a_day_are_forgotten(string provider)
    {
        await using var env = await RetentionEnvironment.CreateAsync(provider);
        var job = await env.AddQueuedJobAsync();
        await env.AddIdempotencyKeyAsync("first", job);
        env.Time.Advance(TimeSpan.FromHours(20));
        await env.AddIdempotencyKeyAsync("second", job);
        env.Time.Advance(TimeSpan.FromHours(5));

        var report = await env.RunAsync();

        Assert.Equal(1, report.IdempotencyKeys);
        Assert.Equal(["second"], await env.WithDbAsync(db => db.IdempotencyRecords.Select(r => r.Key).ToListAsync()));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_result_ttl_of_zero_keeps_every_result(string provider)
    {
        await using var env = await RetentionEnvironment.CreateAsync(provider, resultTtl: "00:00:00");
        var old = await env.AddFinishedJobAsync(JobStatus.Succeeded, "kept forever");
        env.Time.Advance(TimeSpan.FromDays(400));

        var report = await env.RunAsync();

        Assert.Equal(new RetentionReport(0, 0, 0, 0, 0), report);
        Assert.True(env.Blobs.Exists(old.Blob));
        Assert.Equal((1, 2), await env.CountsAsync(old.JobId));
    }

    private sealed class RetentionEnvironment : IAsyncDisposable
    {
        private readonly ServiceProvider _services;
        private readonly TestDatabase _database;
        private readonly string _dataDir;

        private RetentionEnvironment(ServiceProvider services, TestDatabase database, string dataDir, FakeTimeProvider time)
        {
            _services = services;
            _database = database;
            _dataDir = dataDir;
            Time = time;
        }

        public FakeTimeProvider Time { get; }

        public IBlobStore Blobs => _services.GetRequiredService<IBlobStore>();

        public static async Task<RetentionEnvironment> CreateAsync(string provider, string resultTtl = "7.00:00:00")
        {
            var dataDir = TestPaths.NewTempFolder("easel-retention-test");
            var database = provider == "postgres" ? await TestDatabase.CreatePostgresAsync() : TestDatabase.Sqlite(dataDir);
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Easel:DataDir"] = dataDir,
                ["Easel:Database:Provider"] = database.Provider,
                ["Easel:Database:MigrateOnStart"] = "true",
                ["ConnectionStrings:Easel"] = database.ConnectionString,
                ["Easel:Models:good:Path"] = TestPaths.FixtureModel("sd15"),
                ["Easel:Retention:ResultTtl"] = resultTtl,
                ["Easel:Retention:BatchSize"] = "2", // several batches in one run
            }).Build();
            var time = new FakeTimeProvider(Start);
            var services = new ServiceCollection();
            services.AddSingleton<IConfiguration>(configuration);
            services.AddLogging();
            services.AddEaselCore();
            services.AddEaselWorkers();
            services.AddSingleton<TimeProvider>(time);
            var built = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
            await built.MigrateEaselDatabaseAsync();
            return new RetentionEnvironment(built, database, dataDir, time);
        }

        public async Task<RetentionReport> RunAsync()
        {
            await using var scope = _services.CreateAsyncScope();
            return await scope.ServiceProvider.GetRequiredService<RetentionJob>().RunAsync(CancellationToken.None);
        }

        public async Task<string> PutAsync(string content) => (await Blobs.PutAsync(Encoding.UTF8.GetBytes(content))).Key;

        /// <summary>A job that ran now and finished with <paramref name="status"/>: queued and final events, one image when it has a result.</summary>
        public async Task<(Guid JobId, string Blob)> AddFinishedJobAsync(JobStatus status, string? result, string? input = null)
        {
            var now = Time.GetUtcNowMilliseconds();
            var blob = result is null ? "" : await PutAsync(result);
            var id = await WithDbAsync(async db =>
            {
                var job = NewJob(now, input);
                db.Jobs.Add(job);
                JobEventLog.Append(db, job, JobEventType.Queued, now);
                job.Status = status;
                job.StartedAt = now;
                job.FinishedAt = now;
                JobEventLog.Append(db, job, JobEventLog.FinalEventOf(status), now);
                if (result is not null)
                {
                    db.Images.Add(new Image
                    {
                        Id = Guid.CreateVersion7(now), JobId = job.Id, Index = 0, BlobKey = blob, Sha256 = blob, ByteSize = result.Length,
                        Width = 64, Height = 64, Seed = 1, CreatedAt = now,
                    });
                }
                await db.SaveChangesAsync();
                return job.Id;
            });
            return (id, blob);
        }

        /// <summary>Adds <paramref name="job"/> with its queued event; a finished status gets its final event, finished now.</summary>
        public Task<Guid> AddJobAsync(Job job, JobStatus status) => WithDbAsync(async db =>
        {
            var now = Time.GetUtcNowMilliseconds();
            db.Jobs.Add(job);
            JobEventLog.Append(db, job, JobEventType.Queued, now);
            job.Status = status;
            job.StartedAt = now;
            if (status is JobStatus.Succeeded or JobStatus.Failed or JobStatus.Canceled)
            {
                job.FinishedAt = now;
                JobEventLog.Append(db, job, JobEventLog.FinalEventOf(status), now);
            }
            await db.SaveChangesAsync();
            return job.Id;
        });

        public Task<Guid> AddQueuedJobAsync(string? input = null) => WithDbAsync(async db =>
        {
            var now = Time.GetUtcNowMilliseconds();
            var job = NewJob(now, input);
            db.Jobs.Add(job);
            JobEventLog.Append(db, job, JobEventType.Queued, now);
            await db.SaveChangesAsync();
            return job.Id;
        });

        public Task<int> AddIdempotencyKeyAsync(string key, Guid jobId) => WithDbAsync(db =>
        {
            db.IdempotencyRecords.Add(new IdempotencyRecord
            {
                Owner = "", Key = key, RequestHash = new string('a', 64), JobId = jobId, CreatedAt = Time.GetUtcNowMilliseconds(),
            });
            return db.SaveChangesAsync();
        });

        public Task<(int Images, int Events)> CountsAsync(Guid jobId) => WithDbAsync(async db =>
            (await db.Images.CountAsync(i => i.JobId == jobId), await db.JobEvents.CountAsync(e => e.JobId == jobId)));

        public Task<Job> JobAsync(Guid jobId) => WithDbAsync(db => db.Jobs.AsNoTracking().SingleAsync(j => j.Id == jobId));

        public async Task<T> WithDbAsync<T>(Func<EaselDbContext, Task<T>> action)
        {
            await using var scope = _services.CreateAsyncScope();
            return await action(scope.ServiceProvider.GetRequiredService<EaselDbContext>());
        }

        public async ValueTask DisposeAsync()
        {
            await _services.DisposeAsync();
            await _database.DisposeAsync();
            Directory.Delete(_dataDir, recursive: true);
        }

        private static Job NewJob(DateTimeOffset now, string? input)
        {
            var parameters = input is null
                ? new GenerationParameters("a red circle", "", "good", 64, 64, 5, 7.5, 1, "ddim", 1)
                : new GenerationParameters("a red circle", "", "good", 64, 64, 5, 7.5, 1, "ddim", 1, GenerationMode.ImageToImage, 0.8,
                    new StoredInputImage(input, 64, 64));
            return Job.Create(JobKind.Generation, parameters, now);
        }
    }
}
