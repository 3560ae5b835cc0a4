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
        Assert.Empty(ErrorLogLines(first.Output));
        Assert.True(File.Exists(Path.Combine(_dataDir, "easel.db")));
        Assert.True(second.ExitCode == 0, second.Output);
        Assert.Contains("Applying 0 migration(s)", second.Output);
    }

    [Fact]
    public async Task Migrate_on_a_fresh_PostgreSQL_database_logs_no_error_and_a_second_run_finds_none_pending()
    {
        await using var database = await TestDatabase.CreatePostgresAsync();
        var environment = new Dictionary<string, string>
        {
            ["Easel__DataDir"] = _dataDir,
            ["Easel__Database__Provider"] = "postgres",
            ["ConnectionStrings__Easel"] = database.ConnectionString,
        };

        var first = await ServiceProcess.RunToExitAsync("Easel.Api.dll", ["migrate"], environment, Within);
        var second = await ServiceProcess.RunToExitAsync("Easel.Workers.dll", ["migrate"], environment, Within);

        Assert.True(first.ExitCode == 0, first.Output);
        Assert.Contains("_JobService", first.Output);
        Assert.Contains("Hangfire schema 'hangfire' is installed", first.Output);
        Assert.Empty(ErrorLogLines(first.Output));
        Assert.True(second.ExitCode == 0, second.Output);
        Assert.Contains("Applying 0 migration(s)", second.Output);
        Assert.Empty(ErrorLogLines(second.Output));
    }

    [Fact]
    public async Task Migrate_exits_3_with_one_line_naming_the_connection_string_when_PostgreSQL_cannot_be_reached()
    {
        var environment = new Dictionary<string, string>
        {
            ["Easel__DataDir"] = _dataDir,
            ["Easel__Database__Provider"] = "postgres",
            // Nothing listens on port 1.
            ["ConnectionStrings__Easel"] = "Host=127.0.0.1;Port=1;Username=easel;Database=easel;Timeout=3",
        };

        var (exitCode, output) = await ServiceProcess.RunToExitAsync("Easel.Api.dll", ["migrate"], environment, Within);

        Assert.Equal(3, exitCode);
        Assert.Equal(["ConnectionStrings:Easel: cannot reach PostgreSQL: Failed to connect to 127.0.0.1:1 (Connection refused)"], Lines(output));
    }

    [Theory]
    [InlineData("Easel.Api.dll")]
    [InlineData("Easel.Workers.dll")]
    public async Task A_contradicting_setting_refuses_start_up_with_exit_code_2_and_one_line_naming_both_keys(string executable)
    {
        var environment = new Dictionary<string, string>
        {
            ["Easel__DataDir"] = _dataDir,
            ["Easel__Database__Provider"] = "postgres",
            // Never reached: the settings are refused first.
            ["ConnectionStrings__Easel"] = "Host=127.0.0.1;Port=1;Username=easel;Database=easel;Timeout=3",
            ["Easel__Generation__DefaultSteps"] = "200",
        };

        var (exitCode, output) = await ServiceProcess.RunToExitAsync(executable, ["--urls", "http://127.0.0.1:0"], environment, Within);

        Assert.Equal(2, exitCode);
        Assert.Equal(["Easel:Generation:DefaultSteps (200) must be ≤ Easel:Generation:MaxSteps (150)"], Lines(output));
    }

    [Fact]
    public async Task A_value_of_the_wrong_type_refuses_start_up_with_one_line_naming_the_key()
    {
        var environment = new Dictionary<string, string> { ["Easel__DataDir"] = _dataDir, ["Easel__Database__Provider"] = "mysql" };

        var (exitCode, output) = await ServiceProcess.RunToExitAsync("Easel.Api.dll", ["--urls", "http://127.0.0.1:0"], environment, Within);

        Assert.Equal(2, exitCode);
        var line = Assert.Single(Lines(output));
        Assert.Contains("'mysql' at 'Easel:Database:Provider'", line);
    }

    [Fact]
    public async Task The_worker_process_refuses_to_serve_an_embedded_SQLite_queue_and_names_the_setting()
    {
        var environment = new Dictionary<string, string> { ["Easel__DataDir"] = _dataDir, ["Easel__Database__Provider"] = "sqlite" };

        var (exitCode, output) = await ServiceProcess.RunToExitAsync("Easel.Workers.dll", ["--urls", "http://127.0.0.1:0"], environment, Within);

        Assert.Equal(2, exitCode);
        var line = Assert.Single(Lines(output));
        Assert.Contains("Easel:Database:Provider = postgres", line);
    }

    [Fact]
    public async Task The_worker_process_exits_3_with_one_line_when_PostgreSQL_cannot_be_reached()
    {
        var environment = new Dictionary<string, string>
        {
            ["Easel__DataDir"] = _dataDir,
            ["Easel__Database__Provider"] = "postgres",
            ["ConnectionStrings__Easel"] = "Host=127.0.0.1;Port=1;Username=easel;Database=easel;Timeout=3",
        };

        var (exitCode, output) = await ServiceProcess.RunToExitAsync("Easel.Workers.dll", ["--urls", "http://127.0.0.1:0"], environment, Within);

        Assert.Equal(3, exitCode);
        Assert.Equal(["ConnectionStrings:Easel: cannot reach PostgreSQL: Failed to connect to 127.0.0.1:1 (Connection refused)"], Lines(output));
    }

    private static string[] Lines(string output) => output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Error and critical log entries of the API's console format (<c>fail:</c>, <c>crit:</c>) and the worker's JSON lines.</summary>
    private static string[] ErrorLogLines(string output) =>
        Lines(output).Where(l => l.Contains("fail:") || l.Contains("crit:") || l.Contains("\"LogLevel\":\"Error\"")
                                 || l.Contains("\"LogLevel\":\"Critical\"")).ToArray();
}
