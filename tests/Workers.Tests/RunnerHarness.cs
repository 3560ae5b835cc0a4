using Easel.Core;
using Easel.Core.Data;
using Easel.Core.Generation;
using Easel.Core.Jobs;
using Easel.Core.Models;
using Easel.Inference.Pipelines;
using Easel.Testing;
using Easel.Workers.Generation;
using Easel.Workers.Hosting;
using Easel.Workers.Jobs;
using Easel.Workers.Models;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Easel.Workers.Tests;

/// <summary>
/// The runner as production wires it (real SQLite database, real blob store, real PNG encoder, real model cache), with
/// an in-test model whose behaviour each test chooses: the seam lets failure paths run without libtorch.
/// </summary>
public sealed class RunnerHarness : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    public RunnerHarness(Func<TextToImageRequest, IProgress<DenoisingProgress>?, CancellationToken, IReadOnlyList<GeneratedImage>>? behaviour = null)
    {
        DataDir = TestPaths.NewTempFolder("easel-worker-test");
        Loader = new InTestModelLoader(behaviour ?? SolidColour);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Easel:DataDir"] = DataDir,
            ["Easel:Database:Provider"] = "sqlite",
            ["Easel:Models:good:Path"] = TestPaths.FixtureModel("sd15"),
            ["Easel:Models:other:Path"] = TestPaths.FixtureModel("sd15"),
            ["Easel:DefaultModel"] = "good",
            ["Easel:Workers:ProgressInterval"] = "00:00:00",
            ["Easel:Workers:CancelPollInterval"] = "00:00:00.050",
            ["Easel:Workers:HeartbeatInterval"] = "00:00:00.100",
        }).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        services.AddEaselCore();
        services.AddSingleton<IGenerationModelLoader>(Loader);
        services.AddEaselWorkers();
        services.AddEaselHangfire(); // the dispatcher's client, on the in-memory storage of the embedded mode
        _services = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
        _services.MigrateEaselDatabaseAsync().GetAwaiter().GetResult();
    }

    public string DataDir { get; }

    public InTestModelLoader Loader { get; }

    public IServiceProvider Services => _services;

    public static IReadOnlyList<GeneratedImage> SolidColour(TextToImageRequest request, IProgress<DenoisingProgress>? progress, CancellationToken cancellationToken)
    {
        for (var step = 1; step <= request.Steps; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            progress?.Report(new DenoisingProgress(step, request.Steps));
        }
        return Enumerable.Range(0, request.NumImages)
            .Select(i => new GeneratedImage(request.Width, request.Height,
                Enumerable.Repeat(new[] { (byte)(10 * i), (byte)128, (byte)(request.Seed % 256) }, request.Width * request.Height).SelectMany(p => p).ToArray()))
            .ToList();
    }

    public async Task<Guid> SubmitAsync(string model = "good", int steps = 3, int numImages = 1, Core.Generation.SeedMode seedMode = Core.Generation.SeedMode.PerImage)
    {
        var parameters = new GenerationParameters("a red circle", "blurry", model, 16, 8, steps, 7.5, 1234, "ddim", numImages, SeedMode: seedMode);
        var job = Job.Create(JobKind.Generation, parameters, DateTimeOffset.UtcNow);
        await WithDbAsync(async db =>
        {
            db.Jobs.Add(job);
            return await db.SaveChangesAsync();
        });
        return job.Id;
    }

    /// <summary>One delivery of the Hangfire job: a fresh scope, as Hangfire's activator makes per job.</summary>
    public async Task RunAsync(Guid jobId, CancellationToken cancellationToken = default)
    {
        await using var scope = _services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<JobRunner>().RunAsync(jobId, cancellationToken);
    }

    public async Task<T> WithDbAsync<T>(Func<EaselDbContext, Task<T>> action)
    {
        await using var scope = _services.CreateAsyncScope();
        return await action(scope.ServiceProvider.GetRequiredService<EaselDbContext>());
    }

    public Task<Job> JobAsync(Guid id) =>
        WithDbAsync(db => db.Jobs.AsNoTracking().Include(j => j.Images).SingleAsync(j => j.Id == id));

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(DataDir, recursive: true);
    }
}

/// <summary>Test double for the inference seam: counts loads and calls; "other" models may behave differently.</summary>
public sealed class InTestModelLoader(
    Func<TextToImageRequest, IProgress<DenoisingProgress>?, CancellationToken, IReadOnlyList<GeneratedImage>> behaviour) : IGenerationModelLoader
{
    public int Loads { get; private set; }

    public int Calls { get; private set; }

    public List<string> Unloaded { get; } = [];

    public Dictionary<string, Func<TextToImageRequest, IProgress<DenoisingProgress>?, CancellationToken, IReadOnlyList<GeneratedImage>>> ByModel { get; } = [];

    public IGenerationModel Load(ModelInfo model)
    {
        Loads++;
        return new Model(this, model.Name, ByModel.GetValueOrDefault(model.Name, behaviour));
    }

    private sealed class Model(InTestModelLoader owner, string name,
        Func<TextToImageRequest, IProgress<DenoisingProgress>?, CancellationToken, IReadOnlyList<GeneratedImage>> run) : IGenerationModel
    {
        public string Family => "sd15";

        public StableDiffusionPipeline? Pipeline => null;

        public IReadOnlyList<GeneratedImage> Generate(Inference.Pipelines.GenerationRequest request, IProgress<DenoisingProgress>? progress = null,
            CancellationToken cancellationToken = default)
        {
            owner.Calls++;
            return run((TextToImageRequest)request, progress, cancellationToken);
        }

        public void Dispose() => owner.Unloaded.Add(name);
    }
}
