using Easel.Core.Generation;
using Easel.Core.Models;
using Easel.Core.Options;
using Microsoft.Extensions.Options;

namespace Easel.Api.Apis;

public static class ModelApi
{
    public static IEndpointRouteBuilder MapModelEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("v1").WithTags("Models");

        api.MapGet("models", (IModelCatalog catalog) => TypedResults.Ok(catalog.Models.Select(m => new ModelResponse(
                m.Name, m.Path, m.Family.ToString().ToLowerInvariant(), m.Inpainting, m.IsDefault, m.Problem)).ToList()))
            .WithName("ListModels")
            .WithSummary("List the configured models")
            .WithDescription("Each model configured as Easel:Models:<name>:Path, with the family read from its diffusers folder "
                + "(sd15, sd2, sdxl; inpainting when its UNet takes 9 channels) and whether it is the default.");

        api.MapGet("schedulers", (SchedulerCatalog schedulers, IOptions<GenerationOptions> options) =>
            {
                schedulers.TryResolve(options.Value.DefaultScheduler, out var fallback);
                return TypedResults.Ok(schedulers.All.Select(s =>
                    new SchedulerResponse(s.Name, s.DisplayName, s.Aliases, s.DiffusersClass, ReferenceEquals(s, fallback))).ToList());
            })
            .WithName("ListSchedulers")
            .WithSummary("List the schedulers a request may name")
            .WithDescription("Every scheduler of the inference core: its canonical `name` (what jobs store), the A1111 "
                + "`display_name` (\"DPM++ 2M Karras\", \"Euler a\"), further `aliases`, the `diffusers_class` it builds on top "
                + "of the model's own scheduler config, and whether it is the `default`. Requests may use any of the names, "
                + "case-insensitively; the job records the canonical name.");

        return app;
    }
}
