using Easel.Core.Options;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Logging;

namespace Easel.Core.Data;

/// <summary>Applies the EF Core migrations of a context's provider: the <c>migrate</c> command and <c>MigrateOnStart</c>.</summary>
public static class DatabaseMigration
{
    /// <summary>
    /// Creates the database and EF's history table when they are missing, then applies the pending migrations. Creating
    /// the history table first keeps a first migration quiet: on a fresh PostgreSQL database Npgsql lists the applied
    /// migrations by reading <c>__EFMigrationsHistory</c> before it exists (for <c>GetPendingMigrations</c> and again at
    /// the start of <c>NpgsqlMigrator.MigrateAsync</c>) and takes "undefined table" for "none applied", but EF has logged
    /// each of those failed reads as an error already (<c>Microsoft.EntityFrameworkCore.Database.Command</c>, event 20102).
    /// A command that fails for any other reason is still logged and thrown.
    /// </summary>
    public static async Task ApplyAsync(EaselDbContext db, DatabaseProvider provider, ILogger logger,
        CancellationToken cancellationToken = default)
    {
        var creator = db.GetService<IRelationalDatabaseCreator>();
        if (!await creator.ExistsAsync(cancellationToken))
            await creator.CreateAsync(cancellationToken);
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await db.GetService<IHistoryRepository>().CreateIfNotExistsAsync(cancellationToken);
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }

        var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).ToList();
        logger.LogInformation("Applying {Count} migration(s) to the {Provider} database: {Migrations}", pending.Count,
            provider, pending.Count == 0 ? "none pending" : string.Join(", ", pending));
        await db.Database.MigrateAsync(cancellationToken);
    }
}
