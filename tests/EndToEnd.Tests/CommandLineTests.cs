using Easel.Testing;
using Microsoft.Data.Sqlite;

namespace Easel.EndToEnd.Tests;

/// <summary>The executables' command line as an operator uses it: the migrate command and the worker's refusal of SQLite.</summary>
public sealed class CommandLineTests : IDisposable
{
    private static readonly TimeSpan Within = TimeSpan.FromMinutes(2);
    private readonly string _dataDir = TestPaths.NewTempFolder("easel-command-line");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dataDir, recursive: true);
    }

    [Fact]
    public async Task Migrate_on_SQLite_creates_the_database_applies_every_migration_and_a_second_run_finds_none_pending()
    {
        var environment = new Dictionary<string, string> { ["Easel__DataDir"] = _dataDir };

        var first = await ServiceProcess.RunToExitAsync("Easel.Workers.dll", ["migrate"], environment, Within);
        var second = await ServiceProcess.RunToExitAsync("Easel.Api.dll", ["migrate"], environment, Within);

        Assert.True(first.ExitCode == 0, first.Output);
        Assert.Contains("_JobService", first.Output);
        Assert.True(File.Exists(Path.Combine(_dataDir, "easel.db")));
        Assert.True(second.ExitCode == 0, second.Output);
        Assert.Contains("Applying 0 migration(s)", second.Output);
    }

    [Fact]
    public async Task Migrate_exits_1_and_says_why_when_the_database_cannot_be_reached()
    {
        var environment = new Dictionary<string, string>
        {
            ["Easel__DataDir"] = _dataDir,
            ["Easel__Database__Provider"] = "postgres",
            // Nothing listens on port 1.
            ["ConnectionStrings__Easel"] = "Host=127.0.0.1;Port=1;Username=easel;Database=easel;Timeout=3",
        };

        var (exitCode, output) = await ServiceProcess.RunToExitAsync("Easel.Api.dll", ["migrate"], environment, Within);

        Assert.Equal(1, exitCode);
        Assert.Contains("Migration failed", output);
    }

    [Fact]
    public async Task The_worker_process_refuses_to_serve_an_embedded_SQLite_queue_and_names_the_setting()
    {
        var environment = new Dictionary<string, string> { ["Easel__DataDir"] = _dataDir, ["Easel__Database__Provider"] = "sqlite" };

        var (exitCode, output) = await ServiceProcess.RunToExitAsync("Easel.Workers.dll", ["--urls", "http://127.0.0.1:0"], environment, Within);

        Assert.Equal(2, exitCode);
        Assert.Contains("Easel:Database:Provider = postgres", output);
    }
}
