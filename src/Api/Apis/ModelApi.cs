using Easel.Core.Generation;
using Easel.Core.Models;
using Easel.Core.Options;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Easel.Api.Apis;

public static class ModelApi
{
    public static IEndpointRouteBuilder MapModelEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("v1").WithTags("Models");

        api.MapGet("models", ListModels)
            .WithName("ListModels")
            .WithSummary("List the models requests may name, with their defaults and the workers serving them")
            .WithDescription("Every model a worker registered (each worker process records the models of its Easel:Models "
                + "configuration in the database, with a heartbeat) and every model the API's own configuration describes: the "
                + "family (sd15, sd2, sdxl; inpainting when its UNet takes 9 channels), the format (diffusers folder or single "
                + "file), the native size (unet sample_size × VAE scale factor), the values an omitted field gets (`defaults`: "
                + "the model's recommended ones, else Easel:Generation:Default*), whether it is the default model, and the live "
                + "workers serving it. `kind` tells a pipeline from a control model (controlnet: configured like a pipeline, "
                + "named in a generation's `controlnets[].model`), and `fits` lists the pipelines a control model can be added "
                + "to (same family and UNet encoder layout). A model with no live worker is refused at submit with 422 (Easel:Jobs:UnservedModel = "
                + "refuse, the default) or queued until one starts (wait).");

        api.MapGet("schedulers", (SchedulerCatalog schedulers, IOptions<GenerationOptions> options) =>
            {
                schedulers.TryResolve(options.Value.DefaultScheduler, out var fallback);
                return TypedResults.Ok(new ListResponse<SchedulerResponse>(schedulers.All.Select(s =>
                    new SchedulerResponse(s.Name, s.DisplayName, s.Aliases, s.DiffusersClass, ReferenceEquals(s, fallback))).ToList()));
            })
            .WithName("ListSchedulers")
            .WithSummary("List the schedulers a request may name")
            .WithDescription("Every scheduler of the inference core: its canonical `name` (what jobs store), the A1111 "
                + "`display_name` (\"DPM++ 2M Karras\", \"Euler a\"), further `aliases`, the `diffusers_class` it builds on top "
                + "of the model's own scheduler config, and whether it is the `default`. Requests may use any of the names, "
                + "case-insensitively; the job records the canonical name.");

        return app;
    }

    public static async Task<Ok<ListResponse<ModelResponse>>> ListModels(IModelCatalog catalog, SchedulerCatalog schedulers,
        IOptions<GenerationOptions> options, CancellationToken cancellationToken)
    {
        await catalog.RefreshAsync(cancellationToken);
        var fallback = options.Value;
        return TypedResults.Ok(new ListResponse<ModelResponse>(catalog.Models.Select(m =>
        {
            var defaults = m.EffectiveDefaults;
            var scheduler = defaults.Scheduler ?? fallback.DefaultScheduler;
            return new ModelResponse(m.Name, m.Path, m.Family.ToString().ToLowerInvariant(), m.Format == ModelFormat.SingleFile ? "single_file" : "diffusers",
                m.Inpainting, m.IsDefault, m.SampleSize, m.VaeScaleFactor,
                new ModelDefaultsResponse(defaults.Width, defaults.Height, defaults.Steps ?? fallback.DefaultSteps,
                    defaults.GuidanceScale ?? fallback.DefaultGuidanceScale, schedulers.TryResolve(scheduler, out var s) ? s.Name : scheduler),
                m.ServingWorkers, m.Problem, ModelInfo.KindName(m.Kind),
                m.Kind == ModelKind.Pipeline ? null : catalog.Models.Where(p => p.Kind == ModelKind.Pipeline && m.MismatchWith(p) is null).Select(p => p.Name).ToList());
        }).ToList()));
    }
}
