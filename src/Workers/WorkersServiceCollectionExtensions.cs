using Easel.Core.Jobs;
using Easel.Workers.Generation;
using Easel.Workers.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Easel.Workers;

public static class WorkersServiceCollectionExtensions
{
    /// <summary>
    /// Job runners, the model cache and the Hangfire dispatcher. Registering them loads nothing: libtorch is loaded
    /// only when a runner loads its first model. Needs <c>AddEaselCore</c> and a configured Hangfire client.
    /// </summary>
    public static IServiceCollection AddEaselWorkers(this IServiceCollection services)
    {
        services.TryAddSingleton<ITextToImageModelLoader, StableDiffusionModelLoader>();
        services.AddSingleton<ModelCache>();
        services.AddScoped<GenerationJobRunner>();
        services.AddSingleton<IJobDispatcher, HangfireJobDispatcher>();
        return services;
    }
}
