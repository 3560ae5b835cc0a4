using System.Text;
using Easel.Core.Artifacts;
using Easel.Core.Auth;
using Easel.Core.Images;
using Easel.Core.Jobs;
using Easel.Core.Models;
using Easel.Core.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Easel.Core.Data;

/// <summary>
/// Jobs, their images and events, artifacts, idempotency keys, API keys, the webhook outbox and the workers with the models they serve. Migrations are per provider, one subclass each:
/// <c>dotnet ef migrations add &lt;Name&gt; -p src/Core -s src/Core --context SqliteEaselDbContext -o Data/Migrations/Sqlite</c> and
/// <c>dotnet ef migrations add &lt;Name&gt; -p src/Core -s src/Core --context PostgresEaselDbContext -o Data/Migrations/Postgres</c>.
/// Table and column names are snake_case.
/// </summary>
public abstract class EaselDbContext(DbContextOptions options) : DbContext(options)
{
    public DbSet<Job> Jobs => Set<Job>();

    public DbSet<Image> Images => Set<Image>();

    public DbSet<JobEvent> JobEvents => Set<JobEvent>();

    public DbSet<IdempotencyRecord> IdempotencyRecords => Set<IdempotencyRecord>();

    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();

    public DbSet<WebhookSecret> WebhookSecrets => Set<WebhookSecret>();

    public DbSet<WebhookDelivery> WebhookDeliveries => Set<WebhookDelivery>();

    public DbSet<WebhookAttempt> WebhookAttempts => Set<WebhookAttempt>();

    public DbSet<WorkerRecord> Workers => Set<WorkerRecord>();

    public DbSet<WorkerModel> WorkerModels => Set<WorkerModel>();

    public DbSet<Artifact> Artifacts => Set<Artifact>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.ApplyConfiguration(new JobConfiguration());
        modelBuilder.ApplyConfiguration(new ImageConfiguration());
        modelBuilder.ApplyConfiguration(new JobEventConfiguration());
        modelBuilder.ApplyConfiguration(new IdempotencyRecordConfiguration());
        modelBuilder.ApplyConfiguration(new ApiKeyConfiguration());
        modelBuilder.ApplyConfiguration(new WebhookSecretConfiguration());
        modelBuilder.ApplyConfiguration(new WebhookDeliveryConfiguration());
        modelBuilder.ApplyConfiguration(new WebhookAttemptConfiguration());
        modelBuilder.ApplyConfiguration(new WorkerConfiguration());
        modelBuilder.ApplyConfiguration(new WorkerModelConfiguration());
        modelBuilder.ApplyConfiguration(new ArtifactConfiguration());
        ApplySnakeCaseNames(modelBuilder);
    }

    private static void ApplySnakeCaseNames(ModelBuilder modelBuilder)
    {
        foreach (var entity in modelBuilder.Model.GetEntityTypes())
        {
            foreach (var property in entity.GetProperties())
                property.SetColumnName(ToSnakeCase(property.GetColumnName()));
            foreach (var key in entity.GetKeys())
                key.SetName(ToSnakeCase(key.GetName()!));
            foreach (var foreignKey in entity.GetForeignKeys())
                foreignKey.SetConstraintName(ToSnakeCase(foreignKey.GetConstraintName()!));
            foreach (var index in entity.GetIndexes())
                index.SetDatabaseName(ToSnakeCase(index.GetDatabaseName()!));
        }
    }

    internal static string ToSnakeCase(string name)
    {
        var builder = new StringBuilder(name.Length + 8);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c))
            {
                var previousIsLowerOrDigit = i > 0 && (char.IsLower(name[i - 1]) || char.IsDigit(name[i - 1]));
                var nextIsLower = i + 1 < name.Length && char.IsLower(name[i + 1]) && i > 0 && char.IsUpper(name[i - 1]);
                if (previousIsLowerOrDigit || nextIsLower)
                    builder.Append('_');
                builder.Append(char.ToLowerInvariant(c));
            }
            else
            {
                builder.Append(c);
            }
        }
        return builder.ToString();
    }

    /// <summary>Enum values as their snake_case names ("queued", "generation"), readable in SQL.</summary>
    internal sealed class SnakeCaseEnumConverter<TEnum>() : ValueConverter<TEnum, string>(
        v => ToSnakeCase(v.ToString()),
        v => Enum.Parse<TEnum>(v.Replace("_", ""), true))
        where TEnum : struct, Enum;

    private sealed class JobConfiguration : IEntityTypeConfiguration<Job>
    {
        public void Configure(EntityTypeBuilder<Job> job)
        {
            job.ToTable("jobs");
            job.HasKey(j => j.Id);
            job.Property(j => j.Kind).HasConversion(new SnakeCaseEnumConverter<JobKind>()).HasMaxLength(32);
            job.Property(j => j.Status).HasConversion(new SnakeCaseEnumConverter<JobStatus>()).HasMaxLength(16);
            job.Property(j => j.Request).IsRequired();
            job.Property(j => j.Owner).HasMaxLength(128);
            job.Property(j => j.Model).HasMaxLength(200);
            job.Property(j => j.Error).HasMaxLength(4000);
            job.Property(j => j.Webhook).HasMaxLength(2048);
            job.Property(j => j.DispatchId).HasMaxLength(64);
            job.Property(j => j.WorkerName).HasMaxLength(200);
            job.Property(j => j.TraceParent).HasMaxLength(64);
            job.Property(j => j.Version).IsConcurrencyToken();
            job.Ignore(j => j.IsFinished);
            job.Ignore(j => j.Artifacts);
            job.HasIndex(j => new { j.Status, j.CreatedAt });
            job.HasIndex(j => new { j.Owner, j.CreatedAt });
            job.HasIndex(j => new { j.Status, j.HeartbeatAt });
            job.HasMany(j => j.Images).WithOne().HasForeignKey(i => i.JobId).OnDelete(DeleteBehavior.Cascade);
            job.HasMany(j => j.Events).WithOne().HasForeignKey(e => e.JobId).OnDelete(DeleteBehavior.Cascade);
        }
    }

    private sealed class JobEventConfiguration : IEntityTypeConfiguration<JobEvent>
    {
        public void Configure(EntityTypeBuilder<JobEvent> jobEvent)
        {
            jobEvent.ToTable("job_events");
            jobEvent.HasKey(e => e.Id);
            jobEvent.Property(e => e.Id).ValueGeneratedOnAdd();
            jobEvent.Property(e => e.Type).HasConversion(new SnakeCaseEnumConverter<JobEventType>()).HasMaxLength(16);
            jobEvent.Property(e => e.Data).IsRequired();
            jobEvent.HasIndex(e => new { e.JobId, e.Id });
        }
    }

    private sealed class IdempotencyRecordConfiguration : IEntityTypeConfiguration<IdempotencyRecord>
    {
        public void Configure(EntityTypeBuilder<IdempotencyRecord> record)
        {
            record.ToTable("idempotency_keys");
            record.HasKey(r => new { r.Owner, r.Key });
            record.Property(r => r.Owner).HasMaxLength(128);
            record.Property(r => r.Key).HasMaxLength(255);
            record.Property(r => r.RequestHash).HasMaxLength(64).IsRequired();
            record.HasIndex(r => r.CreatedAt);
        }
    }

    private sealed class ApiKeyConfiguration : IEntityTypeConfiguration<ApiKey>
    {
        public void Configure(EntityTypeBuilder<ApiKey> key)
        {
            key.ToTable("api_keys");
            key.HasKey(k => k.Id);
            key.Property(k => k.Id).HasMaxLength(128);
            key.Property(k => k.Name).HasMaxLength(200).IsRequired();
            key.Property(k => k.SecretHash).HasMaxLength(64).IsRequired();
            key.Property(k => k.Prefix).HasMaxLength(32).IsRequired();
            key.Ignore(k => k.IsRevoked);
            key.HasIndex(k => k.SecretHash).IsUnique();
        }
    }

    private sealed class WebhookSecretConfiguration : IEntityTypeConfiguration<WebhookSecret>
    {
        public void Configure(EntityTypeBuilder<WebhookSecret> secret)
        {
            secret.ToTable("webhook_secrets");
            secret.HasKey(s => s.Owner);
            secret.Property(s => s.Owner).HasMaxLength(128);
            secret.Property(s => s.Secret).HasMaxLength(128).IsRequired();
            secret.Property(s => s.PreviousSecret).HasMaxLength(128);
        }
    }

    private sealed class WebhookDeliveryConfiguration : IEntityTypeConfiguration<WebhookDelivery>
    {
        public void Configure(EntityTypeBuilder<WebhookDelivery> delivery)
        {
            delivery.ToTable("webhook_deliveries");
            delivery.HasKey(d => d.Id);
            delivery.Property(d => d.Owner).HasMaxLength(128);
            delivery.Property(d => d.EventType).HasConversion(new SnakeCaseEnumConverter<WebhookEventTypes>()).HasMaxLength(16);
            delivery.Property(d => d.Url).HasMaxLength(2048).IsRequired();
            delivery.Property(d => d.Payload).IsRequired();
            delivery.Property(d => d.Status).HasConversion(new SnakeCaseEnumConverter<WebhookDeliveryStatus>()).HasMaxLength(16);
            delivery.Property(d => d.LastError).HasMaxLength(1000);
            delivery.Property(d => d.Version).IsConcurrencyToken();
            delivery.HasIndex(d => new { d.Status, d.NextAttemptAt });
            delivery.HasIndex(d => new { d.JobId, d.CreatedAt });
            delivery.HasOne<Job>().WithMany().HasForeignKey(d => d.JobId).OnDelete(DeleteBehavior.Cascade);
            delivery.HasMany(d => d.Attempts).WithOne().HasForeignKey(a => a.DeliveryId).OnDelete(DeleteBehavior.Cascade);
        }
    }

    private sealed class WebhookAttemptConfiguration : IEntityTypeConfiguration<WebhookAttempt>
    {
        public void Configure(EntityTypeBuilder<WebhookAttempt> attempt)
        {
            attempt.ToTable("webhook_attempts");
            attempt.HasKey(a => a.Id);
            attempt.Property(a => a.Id).ValueGeneratedOnAdd();
            attempt.Property(a => a.Error).HasMaxLength(1000);
            attempt.HasIndex(a => new { a.DeliveryId, a.Number }).IsUnique();
        }
    }

    private sealed class WorkerConfiguration : IEntityTypeConfiguration<WorkerRecord>
    {
        public void Configure(EntityTypeBuilder<WorkerRecord> worker)
        {
            worker.ToTable("workers");
            worker.HasKey(w => w.Id);
            worker.Property(w => w.Id).HasMaxLength(200);
            worker.Property(w => w.Role).HasMaxLength(16).IsRequired();
            worker.Property(w => w.Device).HasMaxLength(32).IsRequired();
            worker.Property(w => w.Queues).HasMaxLength(4000).IsRequired();
            worker.HasIndex(w => w.HeartbeatAt);
            worker.HasMany(w => w.Models).WithOne().HasForeignKey(m => m.WorkerId).OnDelete(DeleteBehavior.Cascade);
        }
    }

    private sealed class WorkerModelConfiguration : IEntityTypeConfiguration<WorkerModel>
    {
        public void Configure(EntityTypeBuilder<WorkerModel> model)
        {
            model.ToTable("worker_models");
            model.HasKey(m => new { m.WorkerId, m.Name });
            model.Property(m => m.WorkerId).HasMaxLength(200);
            model.Property(m => m.Name).HasMaxLength(200);
            model.Property(m => m.Path).HasMaxLength(2048).IsRequired();
            model.Property(m => m.Family).HasConversion(new SnakeCaseEnumConverter<ModelFamily>()).HasMaxLength(16);
            model.Property(m => m.Format).HasConversion(new SnakeCaseEnumConverter<ModelFormat>()).HasMaxLength(16);
            model.Property(m => m.DefaultScheduler).HasMaxLength(64);
            model.Property(m => m.Problem).HasMaxLength(2000);
            model.Property(m => m.Kind).HasConversion(new SnakeCaseEnumConverter<ModelKind>()).HasMaxLength(32);
        }
    }

    private sealed class ArtifactConfiguration : IEntityTypeConfiguration<Artifact>
    {
        public void Configure(EntityTypeBuilder<Artifact> artifact)
        {
            artifact.ToTable("artifacts");
            artifact.HasKey(a => a.Id);
            artifact.Property(a => a.Owner).HasMaxLength(128);
            artifact.Property(a => a.Kind).HasConversion(new SnakeCaseEnumConverter<ArtifactKind>()).HasMaxLength(32);
            artifact.Property(a => a.Format).HasConversion(new SnakeCaseEnumConverter<ArtifactFormat>()).HasMaxLength(32);
            artifact.Property(a => a.Name).HasMaxLength(ArtifactNames.MaxLength).IsRequired();
            artifact.Property(a => a.BaseModel).HasMaxLength(200);
            artifact.Property(a => a.BaseModelHash).HasMaxLength(64);
            artifact.Property(a => a.BlobKey).HasMaxLength(128).IsRequired();
            artifact.Property(a => a.Sha256).HasMaxLength(64).IsRequired();
            artifact.Property(a => a.Metadata).IsRequired();
            // Names are unique among an owner's live artifacts; a deleted artifact's name may be taken again.
            artifact.HasIndex(a => new { a.Owner, a.Name }).IsUnique().HasFilter("deleted_at IS NULL");
            artifact.HasIndex(a => new { a.Owner, a.CreatedAt });
            artifact.HasIndex(a => a.BlobKey);
            artifact.HasOne<Job>().WithMany().HasForeignKey(a => a.JobId).OnDelete(DeleteBehavior.SetNull);
        }
    }

    private sealed class ImageConfiguration : IEntityTypeConfiguration<Image>
    {
        public void Configure(EntityTypeBuilder<Image> image)
        {
            image.ToTable("images");
            image.HasKey(i => i.Id);
            image.Property(i => i.BlobKey).HasMaxLength(128).IsRequired();
            image.Property(i => i.Sha256).HasMaxLength(64).IsRequired();
            image.Property(i => i.ContentType).HasMaxLength(64).IsRequired();
            image.HasIndex(i => new { i.JobId, i.Index }).IsUnique();
        }
    }
}

/// <summary>The embedded default. DateTimeOffset values are stored as Unix milliseconds so that SQLite can order them.</summary>
public sealed class SqliteEaselDbContext(DbContextOptions<SqliteEaselDbContext> options) : EaselDbContext(options)
{
    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        configurationBuilder.Properties<DateTimeOffset>().HaveConversion<UnixMillisecondsConverter>();
    }

    private sealed class UnixMillisecondsConverter() : ValueConverter<DateTimeOffset, long>(
        v => v.ToUnixTimeMilliseconds(),
        v => DateTimeOffset.FromUnixTimeMilliseconds(v));
}

/// <summary>Production: timestamps as timestamptz, the request as jsonb.</summary>
public sealed class PostgresEaselDbContext(DbContextOptions<PostgresEaselDbContext> options) : EaselDbContext(options)
{
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        base.OnModelCreating(modelBuilder);
        modelBuilder.Entity<Job>().Property(j => j.Request).HasColumnType("jsonb");
        modelBuilder.Entity<JobEvent>().Property(e => e.Data).HasColumnType("jsonb");
        modelBuilder.Entity<Artifact>().Property(a => a.Metadata).HasColumnType("jsonb");
    }
}
