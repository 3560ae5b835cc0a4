using Npgsql;

namespace Easel.Testing;

/// <summary>A database of its own for one test fixture: a SQLite file in a temp folder, or a fresh PostgreSQL database.</summary>
public abstract class TestDatabase : IAsyncDisposable
{
    public const string PostgresVariable = "EASEL_TEST_POSTGRES";

    public abstract string Provider { get; }

    public abstract string ConnectionString { get; }

    public abstract ValueTask DisposeAsync();

    public static TestDatabase Sqlite(string folder) => new SqliteDatabase(folder);

    /// <summary>
    /// Creates <c>easel_test_…</c> on the server named by <c>EASEL_TEST_POSTGRES</c>. Without that variable the
    /// PostgreSQL tests fail: they are never skipped or passed silently.
    /// </summary>
    public static async Task<TestDatabase> CreatePostgresAsync()
    {
        var server = Environment.GetEnvironmentVariable(PostgresVariable);
        if (string.IsNullOrWhiteSpace(server))
            throw new InvalidOperationException(
                $"{PostgresVariable} is not set, so the PostgreSQL variant of these tests cannot run. Run ./scripts/test.sh, "
                + "which starts a throwaway PostgreSQL on loopback and sets it, or set it to an Npgsql connection string "
                + "whose user may CREATE DATABASE.");
        var name = $"easel_test_{Guid.NewGuid():N}";
        await using (var connection = new NpgsqlConnection(server))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await create.ExecuteNonQueryAsync();
        }
        var builder = new NpgsqlConnectionStringBuilder(server) { Database = name };
        return new PostgresDatabase(server, name, builder.ConnectionString);
    }

    private sealed class SqliteDatabase(string folder) : TestDatabase
    {
        public override string Provider => "sqlite";

        public override string ConnectionString { get; } = $"Data Source={Path.Combine(folder, "easel-test.db")}";

        public override ValueTask DisposeAsync()
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            return ValueTask.CompletedTask;
        }
    }

    private sealed class PostgresDatabase(string server, string name, string connectionString) : TestDatabase
    {
        public override string Provider => "postgres";

        public override string ConnectionString => connectionString;

        public override async ValueTask DisposeAsync()
        {
            NpgsqlConnection.ClearAllPools();
            await using var connection = new NpgsqlConnection(server);
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
            await drop.ExecuteNonQueryAsync();
        }
    }
}
