using Easel.Core.Data;
using Easel.Core.Options;
using Hangfire.PostgreSql;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Easel.Workers.Hosting;

/// <summary>
/// <c>dotnet Easel.Api.dll migrate</c> / <c>dotnet Easel.Workers.dll migrate</c>: applies the EF Core migrations of the
/// configured provider and, for PostgreSQL, installs or upgrades Hangfire's schema, then exits: 0 on success, 1 when a
/// migration fails (logged with its error), and <see cref="StartupRefusal"/>'s codes for a setting or a database it cannot
/// work with. For deployments that migrate once (an init container, a release step) rather than at every start-up.
/// </summary>
public static class MigrateCommand
{
    public const string Name = "migrate";

    public static bool IsRequested(IReadOnlyList<string> args) => args.Count > 0 && args[0] == Name;

    /// <summary>The arguments for the host: the command word removed.</summary>
    public static string[] HostArguments(string[] args) => IsRequested(args) ? args[1..] : args;

    public static async Task<int> RunAsync(IServiceProvider services, CancellationToken cancellationToken = default)
    {
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("Easel.Migrate");
        try
        {
            var easel = services.GetRequiredService<IOptions<EaselOptions>>().Value;
            var database = services.GetRequiredService<IOptions<DatabaseOptions>>().Value;
            Directory.CreateDirectory(easel.DataDirFullPath);
            await using (var scope = services.CreateAsyncScope())
            {
                var db = scope.ServiceProvider.GetRequiredService<EaselDbContext>();
                await DatabaseMigration.ApplyAsync(db, database.Provider, logger, cancellationToken);
            }
            if (database.Provider == DatabaseProvider.Postgres)
            {
                await using var connection = new NpgsqlConnection(database.ResolveConnectionString(easel));
                await connection.OpenAsync(cancellationToken);
                PostgreSqlObjectsInstaller.Install(connection, HangfireServiceCollectionExtensions.PostgresSchema);
                logger.LogInformation("Hangfire schema '{Schema}' is installed", HangfireServiceCollectionExtensions.PostgresSchema);
            }
            logger.LogInformation("Migration finished");
            return 0;
        }
        catch (Exception e) when (!StartupRefusal.Explains(e))
        {
            logger.LogCritical(e, "Migration failed: {Reason}", e.Message);
            return 1;
        }
    }
}
