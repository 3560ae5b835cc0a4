using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Easel.Workers.Hosting;

/// <summary>
/// How both executables (and <c>migrate</c>) refuse to start: a configuration they cannot run with, or a database they
/// cannot reach, ends the process with one line per reason on stderr, each naming the configuration key to change, and
/// a non-zero exit code, instead of an unhandled exception's stack trace (exit 134). Anything else still crashes loudly:
/// that is a bug, and its stack trace is what the bug report needs.
/// </summary>
public static class StartupRefusal
{
    /// <summary>A setting is invalid or contradicts another (options validation, a value of the wrong type).</summary>
    public const int ConfigurationExitCode = 2;

    /// <summary>PostgreSQL could not be reached or refused the connection (<c>ConnectionStrings:Easel</c>).</summary>
    public const int DatabaseExitCode = 3;

    /// <summary>
    /// Runs an executable's body. Under WebApplicationFactory the body runs inside a test process (another entry
    /// assembly), which needs the exception itself, so it passes through there.
    /// </summary>
    public static async Task<int> RunAsync(Func<Task<int>> main)
    {
        try
        {
            return await main();
        }
        catch (Exception e) when (Describe(e) is { } refusal && Assembly.GetEntryAssembly() == main.Method.Module.Assembly)
        {
            foreach (var reason in refusal.Reasons)
                await Console.Error.WriteLineAsync(reason);
            return refusal.ExitCode;
        }
    }

    /// <summary>
    /// Runs every <c>ValidateOnStart</c> check now rather than in the host's StartAsync, so that a refusal comes before
    /// migrations and without the host's "Hosting failed to start" error log.
    /// </summary>
    public static void ValidateOptions(IServiceProvider services) => services.GetRequiredService<IStartupValidator>().Validate();

    /// <summary>Whether <see cref="RunAsync"/> turns <paramref name="e"/> into a refusal.</summary>
    public static bool Explains(Exception e) => Describe(e) is not null;

    private sealed record Refusal(IReadOnlyList<string> Reasons, int ExitCode);

    private static Refusal? Describe(Exception e)
    {
        switch (e)
        {
            case OptionsValidationException validation:
                return new Refusal(validation.Failures.ToList(), ConfigurationExitCode);
            case AggregateException aggregate:
                var inner = aggregate.InnerExceptions.Select(Describe).ToList();
                return inner.Count > 0 && inner.All(r => r is not null)
                    ? new Refusal(inner.SelectMany(r => r!.Reasons).ToList(), inner.Max(r => r!.ExitCode))
                    : null;
            // "Failed to convert configuration value 'x' at 'Easel:…' to type '…'.": the binder names the key itself.
            case InvalidOperationException when e.TargetSite?.DeclaringType == typeof(ConfigurationBinder):
                return new Refusal([e.Message], ConfigurationExitCode);
        }
        for (Exception? cause = e; cause is not null; cause = cause.InnerException)
        {
            if (DescribeUnreachableDatabase(cause) is { } reason)
                return new Refusal([reason], DatabaseExitCode);
        }
        return null;
    }

    private static string? DescribeUnreachableDatabase(Exception e) => e switch
    {
        // Wrong password or user (class 28), no such database, the server starting up or shutting down, no free connection.
        PostgresException { SqlState: var state } postgres when state.StartsWith("28", StringComparison.Ordinal)
                || state is PostgresErrorCodes.InvalidCatalogName or PostgresErrorCodes.CannotConnectNow
                    or PostgresErrorCodes.TooManyConnections =>
            $"ConnectionStrings:Easel: PostgreSQL refused the connection: {postgres.MessageText} ({state})",
        PostgresException => null,
        // Npgsql's own errors (not the server's) are connection failures and timeouts.
        NpgsqlException npgsql => $"ConnectionStrings:Easel: cannot reach PostgreSQL: {npgsql.Message}"
                                  + (npgsql.InnerException is { } cause ? $" ({cause.Message})" : ""),
        _ => null,
    };
}
