using Easel.Core.Data;
using Easel.Core.Jobs;
using Easel.Core.Webhooks;
using Easel.Testing;
using Microsoft.EntityFrameworkCore;

namespace Easel.Core.Tests;

/// <summary>The outbox wake-up fires after the commit that made a delivery due, and only then.</summary>
public sealed class WebhookOutboxInterceptorTests : IDisposable
{
    private readonly string _folder = TestPaths.NewTempFolder("easel-outbox-signal");
    private readonly WebhookOutboxSignal _signal = new();

    [Fact]
    public async Task A_committed_outbox_row_signals_and_a_change_without_one_does_not()
    {
        await using var db = await CreateDatabaseAsync();
        var job = NewJob();
        db.Jobs.Add(job);
        JobEventLog.Append(db, job, JobEventType.Queued, job.CreatedAt); // not posted: no outbox row
        await db.SaveChangesAsync();
        Assert.False(await _signal.WaitAsync(TimeSpan.Zero, default));

        JobEventLog.Append(db, job, JobEventType.Succeeded, job.CreatedAt);
        await db.SaveChangesAsync();

        Assert.True(await _signal.WaitAsync(TimeSpan.Zero, default));
        Assert.False(await _signal.WaitAsync(TimeSpan.Zero, default));
    }

    [Fact]
    public async Task Inside_a_transaction_the_signal_waits_for_the_commit_and_a_rollback_cancels_it()
    {
        await using var db = await CreateDatabaseAsync();
        var job = NewJob();
        db.Jobs.Add(job);
        await db.SaveChangesAsync();

        await using (var transaction = await db.Database.BeginTransactionAsync())
        {
            JobEventLog.Append(db, job, JobEventType.Succeeded, job.CreatedAt);
            await db.SaveChangesAsync();
            Assert.False(await _signal.WaitAsync(TimeSpan.Zero, default));
            await transaction.CommitAsync();
        }
        Assert.True(await _signal.WaitAsync(TimeSpan.Zero, default));

        await using (var transaction = await db.Database.BeginTransactionAsync())
        {
            JobEventLog.Append(db, job, JobEventType.Succeeded, job.CreatedAt);
            await db.SaveChangesAsync();
            await transaction.RollbackAsync();
        }
        db.ChangeTracker.Clear();
        await db.SaveChangesAsync();
        Assert.False(await _signal.WaitAsync(TimeSpan.Zero, default));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    private static Job NewJob()
    {
        var job = Job.Create(JobKind.Generation, new { prompt = "a red circle" }, DateTimeOffset.UtcNow);
        job.Webhook = "https://hooks.example.com/easel";
        job.WebhookEvents = WebhookEventTypes.Completed;
        return job;
    }

    private async Task<SqliteEaselDbContext> CreateDatabaseAsync()
    {
        var options = new DbContextOptionsBuilder<SqliteEaselDbContext>()
            .UseSqlite($"Data Source={Path.Combine(_folder, "outbox.db")}")
            .AddInterceptors(new WebhookOutboxInterceptor(_signal))
            .Options;
        var db = new SqliteEaselDbContext(options);
        await db.Database.MigrateAsync();
        return db;
    }
}
