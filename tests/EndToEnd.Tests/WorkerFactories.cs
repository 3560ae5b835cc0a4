using Easel.Testing;

namespace Easel.EndToEnd.Tests;

/// <summary>The whole service with its in-process Hangfire worker running the real pipeline, on SQLite.</summary>
public sealed class SqliteServiceFactory : EaselApiFactory
{
    protected override bool InProcessWorkers => true;

    protected override bool ConfigureSingleFileModel => true;

    protected override Task<TestDatabase> CreateDatabaseAsync() => Task.FromResult(TestDatabase.Sqlite(DataDir));
}

/// <summary>The whole service with its in-process Hangfire worker running the real pipeline, on PostgreSQL.</summary>
public sealed class PostgresServiceFactory : EaselApiFactory
{
    protected override bool InProcessWorkers => true;

    protected override bool ConfigureSingleFileModel => true;

    protected override Task<TestDatabase> CreateDatabaseAsync() => TestDatabase.CreatePostgresAsync();
}
