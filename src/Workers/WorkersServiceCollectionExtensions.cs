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
#if EASEL_HAS_PIPELINE
        services.TryAddSingleton<ITextToImageModelLoader, StableDiffusionModelLoader>();
#endif
        // Transitional (until the pipeline is on main): the runner is registered only when some loader is.
        if (services.Any(s => s.ServiceType == typeof(ITextToImageModelLoader)))
        {
            services.AddSingleton<ModelCache>();
            services.AddScoped<GenerationJobRunner>();
        }
        services.AddSingleton<IJobDispatcher, HangfireJobDispatcher>();
        return services;
    }
}
