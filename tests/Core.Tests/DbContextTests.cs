using Microsoft.EntityFrameworkCore;
using Easel.Core.Data;

namespace Easel.Core.Tests;

public sealed class DbContextTests
{
    [Theory]
    [InlineData("Id", "id")]
    [InlineData("CreatedAt", "created_at")]
    [InlineData("Sha256", "sha256")]
    [InlineData("ProgressStep", "progress_step")]
    [InlineData("PK_Jobs", "pk_jobs")]
    [InlineData("IX_Images_JobId_Index", "ix_images_job_id_index")]
    public void Names_become_snake_case(string name, string expected) => Assert.Equal(expected, EaselDbContext.ToSnakeCase(name));

    [Fact]
    public void Both_providers_map_every_column_to_snake_case()
    {
        using var sqlite = new SqliteEaselDbContextFactory().CreateDbContext([]);
        using var postgres = new PostgresEaselDbContextFactory().CreateDbContext([]);
        foreach (var model in new[] { sqlite.Model, postgres.Model })
        {
            foreach (var entity in model.GetEntityTypes())
            {
                Assert.Matches("^[a-z_]+$", entity.GetTableName()!);
                foreach (var property in entity.GetProperties())
                    Assert.Matches("^[a-z0-9_]+$", property.GetColumnName());
            }
        }
    }

    [Fact]
    public void Each_provider_has_no_model_changes_pending_beyond_its_migrations()
    {
        using var sqlite = new SqliteEaselDbContextFactory().CreateDbContext([]);
        using var postgres = new PostgresEaselDbContextFactory().CreateDbContext([]);

        Assert.False(sqlite.Database.HasPendingModelChanges());
        Assert.False(postgres.Database.HasPendingModelChanges());
    }
}
