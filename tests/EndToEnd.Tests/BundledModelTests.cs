using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Easel.Inference.Shapes;
using Easel.Testing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Easel.EndToEnd.Tests;

/// <summary>The service with no model configured serves the bundled shapes model.</summary>
public sealed class BundledModelServiceFactory : EaselApiFactory
{
    protected override bool InProcessWorkers => true;

    protected override bool ConfigureFixtureModels => false;

    protected override Task<TestDatabase> CreateDatabaseAsync() => Task.FromResult(TestDatabase.Sqlite(DataDir));
}

/// <summary>
/// A fresh checkout generates meaningful images at once: with no model configuration the service answers
/// "a red circle" and "a blue square" with images in which the shapes judge finds that colour and shape.
/// </summary>
public sealed class BundledModelTests(BundledModelServiceFactory factory) : IClassFixture<BundledModelServiceFactory>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task Without_model_configuration_the_bundled_model_is_listed_as_the_default_served_by_the_in_process_worker()
    {
        var models = await factory.CreateClient().GetFromJsonAsync<JsonObject>("/v1/models");
        var model = Assert.Single(models!["data"]!.AsArray(), m => m!["default"]!.GetValue<bool>());
        Assert.Equal("easel-shapes", model!["name"]!.GetValue<string>());
        Assert.True(model["default"]!.GetValue<bool>());
        Assert.Single(model["workers"]!.AsArray());
        // Its model card's settings, from models/easel-shapes/model_defaults.json, and its native 64×64.
        Assert.Equal("""{"width":64,"height":64,"steps":20,"guidance_scale":7.5,"scheduler":"ddim"}""", model["defaults"]!.ToJsonString());
    }

    [Fact]
    public async Task Without_model_configuration_the_control_models_trained_for_the_bundled_model_are_listed_as_fitting_it()
    {
        var models = (await factory.CreateClient().GetFromJsonAsync<JsonObject>("/v1/models"))!["data"]!.AsArray()
            .ToDictionary(m => m!["name"]!.GetValue<string>(), m => m!);

        foreach (var (name, kind) in new[] { ("easel-shapes-controlnet-edges", "controlnet"), ("easel-shapes-t2i-color", "t2i_adapter") })
        {
            Assert.Equal(kind, models[name]["kind"]!.GetValue<string>());
            Assert.Contains("easel-shapes", models[name]["fits"]!.AsArray().Select(p => p!.GetValue<string>()));
        }
        foreach (var name in new[] { "easel-shapes-controlnet-edges", "easel-shapes-t2i-color" })
            Assert.Single(models[name]["workers"]!.AsArray());
    }

    [Fact]
    public async Task A_prompt_alone_gives_a_64x64_image_of_the_bundled_model_with_its_recommended_settings()
    {
        var client = factory.CreateClient();
        var submitted = await client.PostAsync("/v1/generations",
            new StringContent("""{"prompt":"a red circle"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);

        var job = await JobPolling.UntilFinishedAsync(client, submitted.Headers.Location!.OriginalString, Deadline);
        Assert.True(job.GetProperty("status").GetString() == "succeeded", $"job ended as {job}");
        var request = job.GetProperty("request");
        Assert.Equal(("easel-shapes", 64, 64, 20, "ddim"), (request.GetProperty("model").GetString(), request.GetProperty("width").GetInt32(),
            request.GetProperty("height").GetInt32(), request.GetProperty("steps").GetInt32(), request.GetProperty("scheduler").GetString()));
        var image = Assert.Single(job.GetProperty("images").EnumerateArray());
        Assert.Equal((64, 64), (image.GetProperty("width").GetInt32(), image.GetProperty("height").GetInt32()));
    }

    [Theory]
    [InlineData("a red circle", 11)]
    [InlineData("a blue square", 12)]
    public async Task Bundled_model_draws_the_colour_and_shape_it_was_asked_for(string prompt, long seed)
    {
        var client = factory.CreateClient();
        var request = new JsonObject
        {
            ["prompt"] = prompt,
            ["width"] = 64,
            ["height"] = 64,
            ["steps"] = 20,
            ["guidance_scale"] = 7.5,
            ["seed"] = seed,
            ["scheduler"] = "ddim",
        };
        var submitted = await client.PostAsync("/v1/generations",
            new StringContent(request.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);

        var job = await JobPolling.UntilFinishedAsync(client, submitted.Headers.Location!.OriginalString, Deadline);
        Assert.True(job.GetProperty("status").GetString() == "succeeded", $"job ended as {job}");
        var url = Assert.Single(job.GetProperty("images").EnumerateArray()).GetProperty("url").GetString()!;
        using var image = Image.Load<Rgb24>(await client.GetByteArrayAsync(url));
        var rgb = new byte[image.Width * image.Height * 3];
        image.CopyPixelDataTo(rgb);

        var verdict = ShapeJudge.Default.Score(rgb, prompt);
        Assert.True(verdict.ColorCorrect == true && verdict.ShapeCorrect == true,
            $"the judge found {string.Join(", ", verdict.Analysis.Objects.Select(o => $"{o.Color} {o.Kind}"))} for '{prompt}'");
    }
}
