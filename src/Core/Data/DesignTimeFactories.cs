using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Easel.Core.Data;

/// <summary>Used by <c>dotnet ef</c> only; the connection string is never opened when adding a migration.</summary>
public sealed class SqliteEaselDbContextFactory : IDesignTimeDbContextFactory<SqliteEaselDbContext>
{
    public SqliteEaselDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteEaselDbContext>().UseSqlite("Data Source=design-time.db").Options);
}

/// <summary>Used by <c>dotnet ef</c> only; the connection string is never opened when adding a migration.</summary>
public sealed class PostgresEaselDbContextFactory : IDesignTimeDbContextFactory<PostgresEaselDbContext>
{
    public PostgresEaselDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgresEaselDbContext>().UseNpgsql("Host=localhost;Database=easel").Options);
}
