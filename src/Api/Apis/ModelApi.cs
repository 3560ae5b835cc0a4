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

        api.MapGet("schedulers", (IOptions<GenerationOptions> options) => TypedResults.Ok(SchedulerNames.All.Select(s =>
                new SchedulerResponse(s, SchedulerNames.AliasesOf(s),
                    SchedulerNames.TryNormalize(options.Value.DefaultScheduler, out var d) && d == s)).ToList()))
            .WithName("ListSchedulers")
            .WithSummary("List the schedulers a request may name")
            .WithDescription("Canonical names, the A1111 display names accepted as aliases, and the default.");

        return app;
    }
}
