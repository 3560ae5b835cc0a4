using Easel.Core.Models;
using Easel.Core.Options;
using Microsoft.Extensions.DependencyInjection;

namespace Easel.Core.Tests;

/// <summary>The service's catalogue before any worker registration is read: the configured models alone.</summary>
internal static class LocalCatalog
{
    public static ModelCatalog Of(ModelsOptions models) => new(
        new ConfiguredModels(Microsoft.Extensions.Options.Options.Create(models)),
        Microsoft.Extensions.Options.Options.Create(models),
        Microsoft.Extensions.Options.Options.Create(new WorkerOptions()),
        new LocalWorkerRegistrations(),
        new ServiceCollection().BuildServiceProvider().GetRequiredService<IServiceScopeFactory>(),
        TimeProvider.System);
}
