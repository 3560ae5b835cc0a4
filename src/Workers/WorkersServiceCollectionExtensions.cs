using Easel.Core.Generation;
using Easel.Core.Jobs;
using Easel.Core.Models;
using Easel.Core.Options;
using Easel.Inference.Schedulers;
using Easel.Workers.Generation;
using Easel.Workers.Housekeeping;
using Easel.Workers.Jobs;
using Easel.Workers.Models;
using Easel.Workers.Recovery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Easel.Workers;

public static class WorkersServiceCollectionExtensions
{
    /// <summary>
    /// Job runners, the model cache, the Hangfire dispatcher and the scheduler catalogue. Registering them loads nothing:
    /// libtorch is loaded only when a runner loads its first model. Needs <c>AddEaselCore</c> and a configured Hangfire client.
    /// </summary>
    public static IServiceCollection AddEaselWorkers(this IServiceCollection services)
    {
        services.TryAddSingleton<DiffusionPipelineLoader>();
        services.TryAddSingleton<IGenerationModelLoader>(sp => sp.GetRequiredService<DiffusionPipelineLoader>());
        services.TryAddSingleton<IControlModelLoader>(sp => sp.GetRequiredService<DiffusionPipelineLoader>());
        services.TryAddSingleton<ISingleFileInspector, SingleFileInspector>();
        services.TryAddSingleton(_ => CreateSchedulerCatalog());
        services.AddSingleton<ModelCache>();
        services.TryAddSingleton<Artifacts.RequestArtifacts>();
        services.AddScoped<JobRunner>();
        services.AddScoped<GenerationRunner>();
        services.AddScoped<IJobKindRunner>(sp => sp.GetRequiredService<GenerationRunner>());
        services.AddScoped<IJobKindRunner, Editing.EditRunner>();
        services.AddScoped<IJobKindRunner, FineTunes.FineTuneRunner>();
        services.AddSingleton<FineTunes.BaseModelHashes>();
        services.AddSingleton<Inference.Customization.IFineTuneMethod, Inference.Customization.Lora.LoraFineTune>();
        services.AddSingleton<Inference.Customization.IFineTuneMethod, Inference.Customization.TextualInversion.TextualInversionFineTune>();
        services.AddSingleton<IJobDispatcher, HangfireJobDispatcher>();
        services.AddOptions<RetentionOptions>().BindConfiguration(RetentionOptions.Section)
            .ValidateDataAnnotationsNamingKeys(RetentionOptions.Section).ValidateOnStart();
        services.AddScoped<RetentionJob>();
        services.AddScoped<JobRecoverySweep>();
        return services;
    }

    /// <summary>
    /// The recovery sweep as a hosted service. Every process that hosts a Hangfire device server
    /// (the API's in-process worker, the worker executable) registers it, so lost and orphaned jobs are found as long as
    /// any worker lives.
    /// </summary>
    public static IServiceCollection AddJobRecovery(this IServiceCollection services)
    {
        services.AddHostedService<JobRecoveryService>();
        return services;
    }

    /// <summary>
    /// Core's view of <see cref="SchedulerRegistry"/> (which touches no tensor): Core validates scheduler names without
    /// referencing the inference core, and this is the one place that copies the registry into it.
    /// </summary>
    public static SchedulerCatalog CreateSchedulerCatalog() =>
        new(SchedulerRegistry.Schedulers.Select(d => new SchedulerInfo(d.Name, d.DisplayName, d.ClassName, d.Aliases)));
}
