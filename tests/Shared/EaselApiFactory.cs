using Easel.Core.Data;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Easel.Testing;

/// <summary>
/// The real service (Program) on a real database of its own, configured through the same keys a user sets.
/// One subclass per provider; test classes run once per subclass.
/// </summary>
public abstract class EaselApiFactory : WebApplicationFactory<Program>, IAsyncLifetime
{
    private TestDatabase? _database;

    protected EaselApiFactory()
    {
        DataDir = TestPaths.NewTempFolder("easel-api-test");
    }

    public string DataDir { get; }

    /// <summary>The fixture model of every family, configured under its folder name; sd15 is the default.</summary>
    public static IReadOnlyList<string> FixtureModels { get; } = ["sd15", "sd2", "sdxl", "sd15_inpaint"];

    /// <summary>The fixture control models (ControlNets, T2I-Adapters), configured beside the pipelines under their folder names.</summary>
    public static IReadOnlyList<string> FixtureControlModels { get; } = ["controlnet_sd15", "controlnet_sdxl", "t2i_adapter_full", "t2i_adapter_light"];

    /// <summary>The fixture GLIGEN pipeline (text grounding), configured under its folder name.</summary>
    public const string GligenModel = "gligen_text";

    public const int MaxInputImageBytes = 256 * 1024;

    public TestDatabase Database => _database ?? throw new InvalidOperationException("The fixture is not initialized.");

    /// <summary>Whether the API hosts its Hangfire worker (and so may load libtorch).</summary>
    protected virtual bool InProcessWorkers => false;

    /// <summary>Whether the fixture models are configured; without them the service falls back to its bundled model.</summary>
    protected virtual bool ConfigureFixtureModels => true;

    /// <summary>
    /// Whether <see cref="SingleFileModel"/> is configured too: the sd15 fixture's weights as a single LDM-layout file, with
    /// the sd15 folder as its ConfigFrom.
    /// </summary>
    protected virtual bool ConfigureSingleFileModel => false;

    public const string SingleFileModel = "sd15_single";

    protected abstract Task<TestDatabase> CreateDatabaseAsync();

    public async Task InitializeAsync()
    {
        await PrepareDatabaseAsync();
        _ = Server; // start the host now, so that start-up failures surface as fixture failures
    }

    /// <summary>Creates the database without starting the service (for tests of start-up itself).</summary>
    public async Task PrepareDatabaseAsync() => _database ??= await CreateDatabaseAsync();

    async Task IAsyncLifetime.DisposeAsync()
    {
        await base.DisposeAsync();
        if (_database is not null)
            await _database.DisposeAsync();
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseSetting("Easel:DataDir", DataDir);
        builder.UseSetting("Easel:Database:Provider", Database.Provider);
        builder.UseSetting("Easel:Database:MigrateOnStart", "true");
        builder.UseSetting("ConnectionStrings:Easel", Database.ConnectionString);
        if (ConfigureFixtureModels)
        {
            foreach (var model in FixtureModels.Concat(FixtureControlModels).Append(GligenModel))
                builder.UseSetting($"Easel:Models:{model}:Path", TestPaths.FixtureModel(model));
            builder.UseSetting("Easel:DefaultModel", "sd15");
            if (ConfigureSingleFileModel)
            {
                builder.UseSetting($"Easel:Models:{SingleFileModel}:Path", TestPaths.SingleFileCheckpoint("sd15"));
                builder.UseSetting($"Easel:Models:{SingleFileModel}:ConfigFrom", TestPaths.FixtureModel("sd15"));
            }
        }
        // Small enough that a test can exceed it cheaply; a 64×64 PNG is a few kilobytes.
        builder.UseSetting("Easel:Generation:MaxInputImageBytes", MaxInputImageBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        builder.UseSetting("Easel:Workers:InProcess", InProcessWorkers ? "true" : "false");
        // Without a worker nothing serves the configured models; the API tests queue jobs for them anyway.
        if (!InProcessWorkers)
            builder.UseSetting("Easel:Jobs:UnservedModel", "wait");
        builder.UseSetting("Easel:Workers:Device", "cpu");
        // A test host stops at once: a job still running is handed back rather than waited for.
        builder.UseSetting("Easel:Workers:DrainTimeout", "00:00:00");
        // Fine-tunes of a few steps still cross checkpoints (and yield points).
        builder.UseSetting("Easel:FineTunes:CheckpointEvery", "4");
    }

    /// <summary>Runs <paramref name="action"/> with a fresh database context of the service.</summary>
    public async Task<T> WithDbAsync<T>(Func<EaselDbContext, Task<T>> action)
    {
        await using var scope = Services.CreateAsyncScope();
        return await action(scope.ServiceProvider.GetRequiredService<EaselDbContext>());
    }

    public Task<int> CountJobsAsync() => WithDbAsync(db => db.Jobs.CountAsync());
}

public sealed class SqliteApiFactory : EaselApiFactory
{
    protected override Task<TestDatabase> CreateDatabaseAsync() => Task.FromResult(TestDatabase.Sqlite(DataDir));
}

public sealed class PostgresApiFactory : EaselApiFactory
{
    protected override Task<TestDatabase> CreateDatabaseAsync() => TestDatabase.CreatePostgresAsync();
}
