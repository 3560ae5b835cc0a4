using Easel.Core.Options;
using Easel.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Options;

namespace Easel.Api.Tests;

/// <summary>Configuration mistakes stop the service at start-up with a message naming the key.</summary>
public sealed class StartupValidationTests
{
    [Theory]
    [InlineData("Easel:Models:sd15:Path", "/no/such/model/folder", "Easel:Models:sd15:Path")]
    [InlineData("Easel:DefaultModel", "sd3", "Easel:DefaultModel 'sd3'")]
    [InlineData("Easel:Generation:DefaultScheduler", "plms-nope", "Easel:Generation:DefaultScheduler 'plms-nope'")]
    [InlineData("Easel:Generation:MaxSteps", "0", "Easel:Generation:MaxSteps (0) must be between 1 and 1000")]
    [InlineData("Easel:Workers:DType", "int8", "Easel:Workers:DType must be float32, float16 or bfloat16")]
    [InlineData("Easel:Workers:Device", "gpu", "Easel:Workers:Device must be auto, cpu, cuda or cuda:N")]
    [InlineData("Easel:Workers:HeartbeatTimeout", "00:00:06",
        "Easel:Workers:HeartbeatTimeout (00:00:06) must be more than twice Easel:Workers:HeartbeatInterval (00:00:05)")]
    [InlineData("Easel:Workers:PreviewEvery", "-1", "Easel:Workers:PreviewEvery (-1) must be between 0 and 1000")]
    [InlineData("Easel:Auth:AdminKey", "too-short-to-be-safe", "Easel:Auth:AdminKey must be at least 32 characters")]
    [InlineData("Easel:Auth:DefaultRateLimitPerMinute", "0", "Easel:Auth:DefaultRateLimitPerMinute (0) must be between 1 and 1000000")]
    [InlineData("Easel:Auth:DefaultMaxQueuedJobs", "0", "Easel:Auth:DefaultMaxQueuedJobs (0) must be between 1 and 1000000")]
    [InlineData("Easel:Retention:BatchSize", "0", "Easel:Retention:BatchSize (0) must be between 1 and 10000")]
    [InlineData("Easel:Webhooks:Timeout", "00:10:00", "Easel:Webhooks:Timeout (00:10:00) must be between 00:00:00.1 and 00:05:00")]
    [InlineData("Easel:Webhooks:RetryDelays:0", "8.00:00:00", "Easel:Webhooks:RetryDelays (8.00:00:00) must each be between 0 and 7 days")]
    public async Task Invalid_setting_stops_the_service_with_a_message_naming_it(string key, string value, string named)
    {
        var message = await StartupFailureAsync((key, value));

        Assert.Contains(named, message);
    }

    /// <summary>Each setting alone is valid; together every request relying on a default, or every size, would be refused.</summary>
    [Theory]
    [InlineData("Easel:Generation:DefaultSteps=200", "Easel:Generation:DefaultSteps (200) must be ≤ Easel:Generation:MaxSteps (150)")]
    [InlineData("Easel:Generation:MaxSteps=20", "Easel:Generation:DefaultSteps (30) must be ≤ Easel:Generation:MaxSteps (20)")]
    [InlineData("Easel:Generation:DefaultWidth=500", "Easel:Generation:DefaultWidth (500) must be a multiple of 8")]
    [InlineData("Easel:Generation:MaxSize=500", "Easel:Generation:MaxSize (500) must be a multiple of 8")]
    [InlineData("Easel:Generation:MaxSize=256", "Easel:Generation:DefaultWidth (512) must be ≤ Easel:Generation:MaxSize (256)")]
    [InlineData("Easel:Generation:MinSize=1024", "Easel:Generation:DefaultHeight (512) must be ≥ Easel:Generation:MinSize (1024)")]
    [InlineData("Easel:Generation:MinSize=4096", "Easel:Generation:MinSize (4096) must be ≤ Easel:Generation:MaxSize (2048)")]
    [InlineData("Easel:Generation:MaxPixels=200000",
        "Easel:Generation:DefaultWidth × Easel:Generation:DefaultHeight (262144) must be ≤ Easel:Generation:MaxPixels (200000)")]
    [InlineData("Easel:Generation:MaxPixels=4000", "Easel:Generation:MinSize² (4096) must be ≤ Easel:Generation:MaxPixels (4000)")]
    [InlineData("Easel:Generation:MaxGuidanceScale=5",
        "Easel:Generation:DefaultGuidanceScale (7.5) must be ≤ Easel:Generation:MaxGuidanceScale (5)")]
    [InlineData("Easel:Models:sd15:Defaults:Steps=200", "Easel:Models:sd15:Defaults:Steps (200) must be between 1 and Easel:Generation:MaxSteps (150)")]
    [InlineData("Easel:Models:sd15:Defaults:Width=500",
        "Easel:Models:sd15:Defaults:Width (500) must be a multiple of 8 between Easel:Generation:MinSize (64) and Easel:Generation:MaxSize (2048)")]
    [InlineData("Easel:Models:sd15:Defaults:GuidanceScale=31",
        "Easel:Models:sd15:Defaults:GuidanceScale (31) must be between 0 and Easel:Generation:MaxGuidanceScale (30)")]
    [InlineData("Easel:Models:sd15:Defaults:Scheduler=plms-nope", "Easel:Models:sd15:Defaults:Scheduler 'plms-nope' is not a known scheduler")]
    [InlineData("Easel:Workers:Device=cpu;Easel:Workers:DType=float16",
        "Easel:Workers:DType float16 cannot run on Easel:Workers:Device cpu")]
    public async Task Contradicting_settings_stop_the_service_with_a_message_naming_both_keys(string settings, string named)
    {
        var message = await StartupFailureAsync(settings.Split(';').Select(s => (s[..s.IndexOf('=')], s[(s.IndexOf('=') + 1)..])).ToArray());

        Assert.Contains(named, message);
    }

    [Theory]
    [InlineData("auto")]
    [InlineData("CPU")]
    [InlineData("cuda")]
    [InlineData("cuda:1")]
    public void Every_documented_device_name_is_accepted(string device)
    {
        var validation = new SectionValidation<WorkerOptions>(null, WorkerOptions.Section);

        var result = validation.Validate(null, new WorkerOptions { Device = device });

        Assert.True(result.Succeeded, result.FailureMessage);
    }

    private static async Task<string> StartupFailureAsync(params (string Key, string Value)[] settings)
    {
        var factory = new MisconfiguredFactory(settings);
        await using var _ = new Cleanup(factory);
        await factory.PrepareDatabaseAsync();

        var error = Assert.ThrowsAny<Exception>(() => factory.CreateClient());

        var validation = FindValidationException(error);
        Assert.True(validation is not null, error.ToString());
        return validation.Message;
    }

    [Fact]
    public async Task Postgres_without_a_connection_string_stops_the_service()
    {
        var factory = new MisconfiguredFactory([("Easel:Database:Provider", "postgres"), ("ConnectionStrings:Easel", "")]);
        await using var _ = new Cleanup(factory);
        await factory.PrepareDatabaseAsync();

        var error = Assert.ThrowsAny<Exception>(() => factory.CreateClient());

        Assert.Contains("ConnectionStrings:Easel", FindValidationException(error)?.Message ?? error.ToString());
    }

    private static OptionsValidationException? FindValidationException(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is OptionsValidationException validation)
                return validation;
            if (e is AggregateException aggregate)
                return aggregate.InnerExceptions.Select(FindValidationException).FirstOrDefault(v => v is not null);
        }
        return null;
    }

    private sealed class Cleanup(IAsyncLifetime fixture) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await fixture.DisposeAsync();
    }

    private sealed class MisconfiguredFactory(IReadOnlyList<(string Key, string Value)> settings) : EaselApiFactory
    {
        protected override Task<TestDatabase> CreateDatabaseAsync() => Task.FromResult(TestDatabase.Sqlite(DataDir));

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            foreach (var (key, value) in settings)
                builder.UseSetting(key, value);
        }
    }
}
