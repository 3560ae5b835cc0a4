using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Easel.Testing;
using Easel.Workers;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Easel.EndToEnd.Tests;

/// <summary>
/// Full runs through HTTP, the queue, the worker and the real pipeline on the tiny fixture models: every family, every
/// scheduler, image-to-image and inpainting. Sizes stay at 64×64 and 2 steps so that the suite stays fast.
/// </summary>
public abstract class GenerationModeTests<TFactory>(TFactory factory) : IClassFixture<TFactory>
    where TFactory : EaselApiFactory
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(5);
    private readonly HttpClient _client = factory.CreateClient();

    private static JsonObject Request(string model = "sd15", string scheduler = "euler") => new()
    {
        ["prompt"] = "a red circle on a blue background",
        ["negative_prompt"] = "blurry",
        ["model"] = model,
        ["width"] = 64,
        ["height"] = 64,
        ["steps"] = 2,
        ["guidance_scale"] = 7.5,
        ["seed"] = 42,
        ["scheduler"] = scheduler,
    };

    private static JsonObject WithImage(JsonObject body, bool mask)
    {
        body.Remove("width");
        body.Remove("height");
        body["image"] = Convert.ToBase64String(TestImages.Png());
        if (mask)
            body["mask"] = Convert.ToBase64String(TestImages.Mask());
        return body;
    }

    public static TheoryData<string> SchedulerNames => new(WorkersServiceCollectionExtensions.CreateSchedulerCatalog().Names);

    [Fact]
    public async Task Scheduler_theory_covers_every_scheduler_the_api_lists()
    {
        var listed = (await _client.GetFromJsonAsync<JsonElement>("/v1/schedulers")).GetProperty("data").EnumerateArray().Select(s => s.GetProperty("name").GetString()!);

        Assert.Equal(listed.Order(StringComparer.Ordinal), WorkersServiceCollectionExtensions.CreateSchedulerCatalog().Names.Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(SchedulerNames))]
    public async Task Every_scheduler_produces_a_succeeded_job_on_sd15(string scheduler) =>
        await AssertSucceedsAsync(Json(Request(scheduler: scheduler)), 64, 64);

    [Theory]
    [InlineData("sd15")]
    [InlineData("sd2")]
    [InlineData("sdxl")]
    public async Task Text_to_image_succeeds_for_each_family(string model) =>
        await AssertSucceedsAsync(Json(Request(model)), 64, 64);

    [Fact]
    public async Task Inpaint_succeeds_on_the_inpainting_model() =>
        await AssertSucceedsAsync(Json(WithImage(Request("sd15_inpaint"), mask: true)), 64, 64);

    [Fact]
    public async Task Inpaint_succeeds_on_an_ordinary_model_by_latent_blending() =>
        await AssertSucceedsAsync(Json(WithImage(Request("sd15"), mask: true)), 64, 64);

    [Theory]
    [InlineData("sd15")]
    [InlineData("sd2")]
    [InlineData("sdxl")]
    public async Task Image_to_image_as_json_succeeds(string model)
    {
        var body = WithImage(Request(model), mask: false);
        body["strength"] = 0.5;
        body["steps"] = 3;
        await AssertSucceedsAsync(Json(body), 64, 64);
    }

    [Fact]
    public async Task Image_to_image_as_multipart_succeeds()
    {
        var fields = Request();
        fields.Remove("width");
        fields.Remove("height");
        fields["strength"] = 0.6;
        fields["steps"] = 3;
        await AssertSucceedsAsync(TestImages.Multipart(fields, TestImages.Png()), 64, 64);
    }

    [Fact]
    public async Task Inpaint_as_multipart_succeeds() =>
        await AssertSucceedsAsync(TestImages.Multipart(Request("sd15_inpaint").Also(f => { f.Remove("width"); f.Remove("height"); }),
            TestImages.Png(), TestImages.Mask()), 64, 64);

    [Fact]
    public async Task A_single_file_checkpoint_configured_as_a_model_gives_the_pixels_of_the_diffusers_folder_with_the_same_weights()
    {
        var folder = await PixelsAsync(await RunAsync(Json(Request("sd15"))));
        var singleFile = await PixelsAsync(await RunAsync(Json(Request(EaselApiFactory.SingleFileModel))));

        Assert.Equal(folder, singleFile);
    }

    [Fact]
    public async Task The_shown_request_submitted_again_gives_the_same_images_and_image_i_is_the_run_with_seed_plus_i()
    {
        var body = WithImage(Request(scheduler: "euler_a"), mask: false);
        body["strength"] = 0.7;
        body["steps"] = 3;
        body["num_images"] = 2;
        var first = await RunAsync(Json(body));
        var shown = first.GetProperty("request");
        Assert.Equal("per_image", shown.GetProperty("seed_mode").GetString());
        Assert.Equal("image_to_image", shown.GetProperty("mode").GetString());
        Assert.Equal([42L, 43L], first.GetProperty("images").EnumerateArray().Select(i => i.GetProperty("seed").GetInt64()));

        var again = await RunAsync(new StringContent(shown.GetRawText(), System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(await PixelsAsync(first), await PixelsAsync(again));

        var second = JsonNode.Parse(shown.GetRawText())!.AsObject();
        second["seed"] = 43;
        second["num_images"] = 1;
        var alone = await RunAsync(Json(second));
        Assert.Equal((await PixelsAsync(first))[1], Assert.Single(await PixelsAsync(alone)));
    }

    [Fact]
    public async Task A_controlnet_unit_changes_the_image_and_the_shown_request_gives_the_same_pixels_again()
    {
        var plain = await PixelsAsync(await RunAsync(Json(Request(scheduler: "ddim"))));
        var body = Request(scheduler: "ddim");
        body["controlnets"] = new JsonArray(new JsonObject
        {
            ["model"] = "controlnet_sd15",
            ["image"] = Convert.ToBase64String(TestImages.Png()),
            ["preprocessor"] = "canny",
            ["scale"] = 1.5,
        });
        var controlled = await RunAsync(Json(body));
        var again = await RunAsync(new StringContent(controlled.GetProperty("request").GetRawText(), System.Text.Encoding.UTF8, "application/json"));

        Assert.NotEqual(plain, await PixelsAsync(controlled));
        Assert.Equal(await PixelsAsync(controlled), await PixelsAsync(again));
    }

    [Fact]
    public async Task Adapters_with_different_factors_change_the_image_and_combine_with_a_controlnet()
    {
        var plain = await PixelsAsync(await RunAsync(Json(Request(scheduler: "ddim"))));
        var body = Request(scheduler: "ddim");
        body["adapters"] = new JsonArray(
            new JsonObject { ["model"] = "t2i_adapter_full", ["image"] = Convert.ToBase64String(TestImages.Png()), ["preprocessor"] = "color" },
            new JsonObject { ["model"] = "t2i_adapter_light", ["image"] = Convert.ToBase64String(TestImages.Png()), ["factor"] = 0.5, ["scale"] = 0.7 });
        body["controlnets"] = new JsonArray(new JsonObject { ["model"] = "controlnet_sd15", ["image"] = Convert.ToBase64String(TestImages.Png()) });
        var adapted = await RunAsync(Json(body));

        Assert.NotEqual(plain, await PixelsAsync(adapted));
    }

    [Fact]
    public async Task Grounding_on_the_gligen_model_changes_the_image_and_a_shown_grounded_request_gives_the_same_pixels()
    {
        var plain = await PixelsAsync(await RunAsync(Json(Request(EaselApiFactory.GligenModel, "ddim"))));
        var body = Request(EaselApiFactory.GligenModel, "ddim");
        body["steps"] = 3;
        body["grounding"] = new JsonObject
        {
            ["phrases"] = new JsonArray("a red circle", "a blue square"),
            ["boxes"] = new JsonArray(new JsonArray(0.0, 0.0, 0.5, 0.5), new JsonArray(0.5, 0.5, 1.0, 1.0)),
            ["beta"] = 1.0,
        };
        var grounded = await RunAsync(Json(body));
        var again = await RunAsync(new StringContent(grounded.GetProperty("request").GetRawText(), System.Text.Encoding.UTF8, "application/json"));
        var ungrounded = Request(EaselApiFactory.GligenModel, "ddim");
        ungrounded["steps"] = 3;

        Assert.NotEqual(await PixelsAsync(await RunAsync(Json(ungrounded))), await PixelsAsync(grounded));
        Assert.Equal(await PixelsAsync(grounded), await PixelsAsync(again));
        Assert.NotEmpty(plain);
    }

    [Fact]
    public async Task Two_controlnet_units_on_sdxl_with_guess_mode_and_a_control_mode_succeed()
    {
        var body = Request("sdxl");
        body["controlnets"] = new JsonArray(
            new JsonObject { ["model"] = "controlnet_sdxl", ["image"] = Convert.ToBase64String(TestImages.Png()), ["guess_mode"] = true },
            new JsonObject
            {
                ["model"] = "controlnet_sdxl", ["image"] = Convert.ToBase64String(TestImages.Png()), ["control_mode"] = "control_more_important",
                ["start"] = 0.5, ["resize_mode"] = "fill", ["preprocessor"] = "invert",
            });
        await AssertSucceedsAsync(Json(body), 64, 64);
    }

    [Fact]
    public async Task A_stored_input_reference_is_refused_unless_a_job_of_the_caller_stored_it()
    {
        var body = Request();
        body.Remove("width");
        body.Remove("height");
        body["image"] = new JsonObject { ["blob"] = new string('0', 64), ["width"] = 64, ["height"] = 64 };
        var submitted = await _client.PostAsync("/v1/generations", Json(body));
        Assert.Equal(HttpStatusCode.BadRequest, submitted.StatusCode);
        var problem = await submitted.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty("image", out _), problem.ToString());
    }

    private async Task<JsonElement> RunAsync(HttpContent content)
    {
        var submitted = await _client.PostAsync("/v1/generations", content);
        Assert.True(submitted.StatusCode == HttpStatusCode.Accepted, await submitted.Content.ReadAsStringAsync());
        var job = await JobPolling.UntilFinishedAsync(_client, submitted.Headers.Location!.OriginalString, Deadline);
        Assert.True(job.GetProperty("status").GetString() == "succeeded", $"job ended as {job}");
        return job;
    }

    private Task<List<byte[]>> PixelsAsync(JsonElement job) => JobRuns.PixelsAsync(_client, job);

    private static StringContent Json(JsonObject body) => new(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json");

    private async Task AssertSucceedsAsync(HttpContent content, int width, int height)
    {
        var submitted = await _client.PostAsync("/v1/generations", content);
        Assert.True(submitted.StatusCode == HttpStatusCode.Accepted, await submitted.Content.ReadAsStringAsync());

        var job = await JobPolling.UntilFinishedAsync(_client, submitted.Headers.Location!.OriginalString, Deadline);

        Assert.True(job.GetProperty("status").GetString() == "succeeded", $"job ended as {job}");
        var image = Assert.Single(job.GetProperty("images").EnumerateArray());
        var png = await _client.GetByteArrayAsync(image.GetProperty("url").GetString());
        using var decoded = Image.Load<Rgb24>(png);
        Assert.Equal((width, height), (decoded.Width, decoded.Height));
    }
}

internal static class JsonObjectExtensions
{
    public static JsonObject Also(this JsonObject o, Action<JsonObject> change)
    {
        change(o);
        return o;
    }
}

public sealed class GenerationModeTestsOnSqlite(SqliteServiceFactory factory) : GenerationModeTests<SqliteServiceFactory>(factory);

public sealed class GenerationModeTestsOnPostgres(PostgresServiceFactory factory) : GenerationModeTests<PostgresServiceFactory>(factory);
