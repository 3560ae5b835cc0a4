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
    [InlineData("Easel:Generation:DefaultScheduler", "plms-nope", "DefaultScheduler 'plms-nope'")]
    [InlineData("Easel:Generation:MaxSteps", "0", "MaxSteps")]
    [InlineData("Easel:Workers:DType", "int8", "DType")]
    [InlineData("Easel:Auth:AdminKey", "too-short-to-be-safe", "Easel:Auth:AdminKey must be at least 32 characters")]
    [InlineData("Easel:Auth:DefaultRateLimitPerMinute", "0", "DefaultRateLimitPerMinute")]
    [InlineData("Easel:Auth:DefaultMaxQueuedJobs", "0", "DefaultMaxQueuedJobs")]
    public async Task Invalid_setting_stops_the_service_with_a_message_naming_it(string key, string value, string named)
    {
        var factory = new MisconfiguredFactory(key, value);
        await using var _ = new Cleanup(factory);
        await factory.PrepareDatabaseAsync();

        var error = Assert.ThrowsAny<Exception>(() => factory.CreateClient());

        var validation = FindValidationException(error);
        Assert.True(validation is not null, error.ToString());
        Assert.Contains(named, validation.Message);
    }

    [Fact]
    public async Task Postgres_without_a_connection_string_stops_the_service()
    {
        var factory = new MisconfiguredFactory("Easel:Database:Provider", "postgres", clearConnectionString: true);
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

    private sealed class MisconfiguredFactory(string key, string value, bool clearConnectionString = false) : EaselApiFactory
    {
        protected override Task<TestDatabase> CreateDatabaseAsync() => Task.FromResult(TestDatabase.Sqlite(DataDir));

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting(key, value);
            if (clearConnectionString)
                builder.UseSetting("ConnectionStrings:Easel", "");
        }
    }
}
