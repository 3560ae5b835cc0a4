using System.Text;
using Easel.Core.Images;
using Easel.Core.Jobs;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Easel.Core.Data;

/// <summary>
/// Jobs and their images. Migrations are per provider, one subclass each:
/// <c>dotnet ef migrations add &lt;Name&gt; -p src/Core -s src/Core --context SqliteEaselDbContext -o Data/Migrations/Sqlite</c> and
/// <c>dotnet ef migrations add &lt;Name&gt; -p src/Core -s src/Core --context PostgresEaselDbContext -o Data/Migrations/Postgres</c>.
/// Table and column names are snake_case.
/// </summary>
public abstract class EaselDbContext(DbContextOptions options) : DbContext(options)
{
    public DbSet<Job> Jobs => Set<Job>();

    public DbSet<Image> Images => Set<Image>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.ApplyConfiguration(new JobConfiguration());
        modelBuilder.ApplyConfiguration(new ImageConfiguration());
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
            job.Property(j => j.Error).HasMaxLength(4000);
            job.Property(j => j.Version).IsConcurrencyToken();
            job.Ignore(j => j.IsFinished);
            job.HasIndex(j => new { j.Status, j.CreatedAt });
            job.HasIndex(j => new { j.Owner, j.CreatedAt });
            job.HasMany(j => j.Images).WithOne().HasForeignKey(i => i.JobId).OnDelete(DeleteBehavior.Cascade);
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
    }
}
