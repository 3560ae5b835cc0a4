using Easel.Core.Models;
using Easel.Core.Options;

namespace Easel.Testing;

/// <summary>Writes a worker's registration as a worker process does at start-up, for API tests that run no worker.</summary>
public static class WorkerRows
{
    /// <summary>A live worker (heartbeat now) serving the fixture models of <paramref name="models"/>; returns its id.</summary>
    public static Task<string> RegisterLiveAsync(EaselApiFactory factory, string workerId, params string[] models) =>
        RegisterAsync(factory, workerId, DateTimeOffset.UtcNow, models);

    public static async Task<string> RegisterAsync(EaselApiFactory factory, string workerId, DateTimeOffset heartbeatAt, params string[] models)
    {
        var now = DateTimeOffset.FromUnixTimeMilliseconds(heartbeatAt.ToUnixTimeMilliseconds());
        await factory.WithDbAsync(async db =>
        {
            db.Workers.Add(new WorkerRecord
            {
                Id = workerId,
                Role = "worker",
                Device = "cpu",
                Queues = "",
                StartedAt = now,
                HeartbeatAt = now,
                Models = [.. models.Select(m => WorkerModel.From(workerId,
                    ConfiguredModels.Describe(m, new ModelOptions { Path = TestPaths.FixtureModel(m) }, isDefault: false, singleFiles: null)))],
            });
            return await db.SaveChangesAsync();
        });
        // The API re-reads registrations at most once per refresh interval.
        await Task.Delay(ModelCatalog.RefreshInterval + TimeSpan.FromMilliseconds(100));
        return workerId;
    }
}
