using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Easel.Core.Jobs;
using Easel.Core.Storage;
using Easel.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Easel.Api.Tests;

/// <summary>POST /v1/edits: a Blended Latent Diffusion edit is accepted as a job of kind edit; bad fields are refused by name.</summary>
public abstract class EditApiTests<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : EaselApiFactory
{
    private static JsonObject Blended() => new()
    {
        ["method"] = "blended",
        ["prompt"] = "a blue circle",
        ["model"] = "sd15",
        ["image"] = Convert.ToBase64String(TestImages.Png()),
        ["mask"] = Convert.ToBase64String(TestImages.Mask()),
        ["steps"] = 2,
        ["seed"] = 3,
    };

    private Task<HttpResponseMessage> PostEditAsync(JsonNode body) =>
        Client.PostAsync("/v1/edits", new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));

    [Fact]
    public async Task A_blended_edit_is_accepted_as_an_edit_job_with_its_image_and_mask_stored_as_blobs()
    {
        var response = await PostEditAsync(Blended());

        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var job = await ReadJsonAsync(response);
        Assert.Equal("edit", job.GetProperty("kind").GetString());
        var request = job.GetProperty("request");
        Assert.Equal("blended", request.GetProperty("method").GetString());
        Assert.Equal("pixel_blend", request.GetProperty("background").GetString());
        Assert.Equal(1.0, request.GetProperty("strength").GetDouble());
        Assert.Equal((64, 64), (request.GetProperty("width").GetInt32(), request.GetProperty("height").GetInt32()));
        var blobs = Factory.Services.GetRequiredService<IBlobStore>();
        Assert.True(blobs.Exists(request.GetProperty("image").GetProperty("blob").GetString()!));
        Assert.True(blobs.Exists(request.GetProperty("mask").GetProperty("blob").GetString()!));
        var id = job.GetProperty("id").GetGuid();
        var row = await Factory.WithDbAsync(db => db.Jobs.AsNoTracking().SingleAsync(j => j.Id == id));
        Assert.Equal(JobKind.Edit, row.Kind);
        Assert.Equal("sd15", row.Model);
    }

    [Fact]
    public async Task A_blended_edit_as_multipart_takes_the_image_and_mask_as_file_parts()
    {
        var fields = new JsonObject { ["method"] = "blended", ["prompt"] = "a blue circle", ["model"] = "sd15", ["steps"] = 2, ["background"] = "decoder_optimization", ["decoder_steps"] = 5 };

        var response = await Client.PostAsync("/v1/edits", TestImages.Multipart(fields, TestImages.Png(), TestImages.Mask()));

        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var request = (await ReadJsonAsync(response)).GetProperty("request");
        Assert.Equal("decoder_optimization", request.GetProperty("background").GetString());
        Assert.Equal(5, request.GetProperty("decoder_steps").GetInt32());
    }

    private static JsonObject PromptToPrompt() => new()
    {
        ["method"] = "prompt_to_prompt",
        ["source"] = new JsonObject { ["prompt"] = "a red circle", ["seed"] = 5 },
        ["prompt"] = "a blue circle",
        ["model"] = "sd15",
        ["width"] = 64,
        ["height"] = 64,
        ["steps"] = 2,
    };

    [Fact]
    public async Task A_prompt_to_prompt_edit_of_a_generated_source_is_accepted_with_its_values_and_defaults()
    {
        var body = PromptToPrompt();
        body["cross_replace_steps"] = new JsonObject { ["default"] = 0.6, ["blue"] = 0.3 };
        body["reweight"] = new JsonObject { ["blue"] = 2 };
        body["local_blend"] = new JsonArray("circle");

        var response = await PostEditAsync(body);

        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var request = (await ReadJsonAsync(response)).GetProperty("request");
        Assert.Equal(5, request.GetProperty("seed").GetInt64());
        var p2p = request.GetProperty("prompt_to_prompt");
        Assert.Equal("a red circle", p2p.GetProperty("source_prompt").GetString());
        Assert.Equal(0.6, p2p.GetProperty("cross_replace_steps").GetDouble());
        Assert.Equal(0.3, p2p.GetProperty("cross_replace_steps_per_word").GetProperty("blue").GetDouble());
        Assert.Equal(0.4, p2p.GetProperty("self_replace_steps").GetDouble());
        Assert.Equal(JsonValueKind.Null, p2p.GetProperty("inversion").ValueKind);
    }

    [Fact]
    public async Task A_prompt_to_prompt_edit_of_a_real_image_stores_the_image_and_inverts_with_null_text_by_default()
    {
        var body = PromptToPrompt();
        body.Remove("width");
        body.Remove("height");
        body["source"] = new JsonObject { ["prompt"] = "a red circle", ["image"] = Convert.ToBase64String(TestImages.Png()) };

        var response = await PostEditAsync(body);

        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var request = (await ReadJsonAsync(response)).GetProperty("request");
        Assert.True(Factory.Services.GetRequiredService<IBlobStore>().Exists(request.GetProperty("image").GetProperty("blob").GetString()!));
        Assert.Equal("null_text", request.GetProperty("prompt_to_prompt").GetProperty("inversion").GetString());
        Assert.Equal(0.01, request.GetProperty("prompt_to_prompt").GetProperty("null_text_learning_rate").GetDouble());
    }

    [Fact]
    public async Task A_prompt_to_prompt_edit_as_multipart_takes_the_real_source_as_the_image_file_part()
    {
        var fields = new JsonObject
        {
            ["method"] = "prompt_to_prompt", ["source"] = new JsonObject { ["prompt"] = "a red circle" }.ToJsonString(), ["prompt"] = "a blue circle",
            ["model"] = "sd15", ["steps"] = 2, ["inversion"] = "ddim",
        };

        var response = await Client.PostAsync("/v1/edits", TestImages.Multipart(fields, TestImages.Png()));

        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        Assert.Equal("ddim", (await ReadJsonAsync(response)).GetProperty("request").GetProperty("prompt_to_prompt").GetProperty("inversion").GetString());
    }

    public static TheoryData<string, string> BadPromptToPromptEdits => new()
    {
        { "no source", "source" },
        { "a source without a prompt", "source.prompt" },
        { "a re-weighted word not in the edited prompt", "reweight.square" },
        { "a local blend word in neither prompt", "local_blend[0]" },
        { "cross replace steps above 1", "cross_replace_steps" },
        { "a per-word cross step for a word not in the edited prompt", "cross_replace_steps.square" },
        { "a mask", "mask" },
        { "two images", "num_images" },
        { "a real source sampled with another scheduler", "scheduler" },
        { "a real source with a seed", "source.seed" },
        { "an unknown inversion", "inversion" },
        { "an inversion for a generated source", "inversion" },
    };

    [Theory]
    [MemberData(nameof(BadPromptToPromptEdits))]
    public async Task A_bad_prompt_to_prompt_edit_is_a_400_naming_the_field_and_no_job_is_created(string @case, string field)
    {
        var body = PromptToPrompt();
        var real = new JsonObject { ["prompt"] = "a red circle", ["image"] = Convert.ToBase64String(TestImages.Png()) };
        switch (@case)
        {
            case "no source": body.Remove("source"); break;
            case "a source without a prompt": body["source"] = new JsonObject { ["seed"] = 3 }; break;
            case "a re-weighted word not in the edited prompt": body["reweight"] = new JsonObject { ["square"] = 0 }; break;
            case "a local blend word in neither prompt": body["local_blend"] = new JsonArray("square"); break;
            case "cross replace steps above 1": body["cross_replace_steps"] = 1.5; break;
            case "a per-word cross step for a word not in the edited prompt": body["cross_replace_steps"] = new JsonObject { ["square"] = 0.5 }; break;
            case "a mask": body["mask"] = Convert.ToBase64String(TestImages.Mask()); break;
            case "two images": body["num_images"] = 2; break;
            case "a real source sampled with another scheduler": body.Remove("width"); body.Remove("height"); body["source"] = real; body["scheduler"] = "euler"; break;
            case "a real source with a seed": body.Remove("width"); body.Remove("height"); real["seed"] = 3; body["source"] = real; break;
            case "an unknown inversion": body.Remove("width"); body.Remove("height"); body["source"] = real; body["inversion"] = "vae"; break;
            case "an inversion for a generated source": body["inversion"] = "ddim"; break;
        }
        var jobsBefore = await Factory.CountJobsAsync();

        var response = await PostEditAsync(body);

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{@case}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        var problem = await ReadJsonAsync(response);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"{@case}: {problem}");
        Assert.Equal(jobsBefore, await Factory.CountJobsAsync());
    }

    private static JsonObject Imagic() => new()
    {
        ["method"] = "imagic", ["prompt"] = "a blue circle", ["model"] = "sd15", ["image"] = Convert.ToBase64String(TestImages.Png()), ["steps"] = 2,
    };

    [Fact]
    public async Task An_imagic_edit_is_accepted_as_a_training_edit_with_its_defaults()
    {
        var body = Imagic();
        body["eta"] = new JsonArray(0.6, 0.8);

        var response = await PostEditAsync(body);

        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var job = await ReadJsonAsync(response);
        var imagic = job.GetProperty("request").GetProperty("imagic");
        Assert.Equal([0.6, 0.8], imagic.GetProperty("etas").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Equal((200, 300), (imagic.GetProperty("embedding_steps").GetInt32(), imagic.GetProperty("finetune_steps").GetInt32()));
        Assert.Equal(JsonValueKind.Null, imagic.GetProperty("session").ValueKind);
        var id = job.GetProperty("id").GetGuid();
        var row = await Factory.WithDbAsync(db => db.Jobs.AsNoTracking().SingleAsync(j => j.Id == id));
        Assert.True(Core.Editing.EditParameters.TrainsIn(row.Request));
    }

    public static TheoryData<string, string> BadImagicEdits => new()
    {
        { "no image", "image" },
        { "an eta above the range", "eta" },
        { "an eta that is not a number", "eta" },
        { "a mask", "mask" },
        { "num_images", "num_images" },
        { "too many embedding steps", "embedding_steps" },
        { "an eta for another method", "eta" },
    };

    [Theory]
    [MemberData(nameof(BadImagicEdits))]
    public async Task A_bad_imagic_edit_is_a_400_naming_the_field_and_no_job_is_created(string @case, string field)
    {
        var body = Imagic();
        switch (@case)
        {
            case "no image": body.Remove("image"); break;
            case "an eta above the range": body["eta"] = 3; break;
            case "an eta that is not a number": body["eta"] = "high"; break;
            case "a mask": body["mask"] = Convert.ToBase64String(TestImages.Mask()); break;
            case "num_images": body["num_images"] = 2; break;
            case "too many embedding steps": body["embedding_steps"] = 1_000_000; break;
            case "an eta for another method": body = Blended(); body["eta"] = 0.5; break;
        }
        var jobsBefore = await Factory.CountJobsAsync();

        var response = await PostEditAsync(body);

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{@case}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.True((await ReadJsonAsync(response)).GetProperty("errors").TryGetProperty(field, out _), @case);
        Assert.Equal(jobsBefore, await Factory.CountJobsAsync());
    }

    [Fact]
    public async Task Rendering_a_session_the_caller_does_not_have_is_a_404()
    {
        var response = await Client.PostAsync($"/v1/edits/{Guid.NewGuid()}/render", new StringContent("{\"eta\": 0.5}", System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    public static TheoryData<string, int, string> BadEdits => new()
    {
        { "no method", 400, "method" },
        { "unknown method", 400, "method" },
        { "no mask", 400, "mask" },
        { "no image", 400, "image" },
        { "mask of another size", 400, "mask" },
        { "unknown background", 400, "background" },
        { "decoder steps without decoder optimization", 400, "decoder_steps" },
        { "strength above 1", 400, "strength" },
        { "an unknown field", 400, "guidance" },
        { "image too many bytes", 413, "image" },
        { "an inpainting model", 422, "model" },
    };

    [Theory]
    [MemberData(nameof(BadEdits))]
    public async Task A_bad_edit_is_a_problem_naming_the_field_and_no_job_is_created(string @case, int status, string field)
    {
        var body = Blended();
        switch (@case)
        {
            case "no method": body.Remove("method"); break;
            case "unknown method": body["method"] = "repaint"; break;
            case "no mask": body.Remove("mask"); break;
            case "no image": body.Remove("image"); break;
            case "mask of another size": body["mask"] = Convert.ToBase64String(TestImages.Mask(64, 32)); break;
            case "unknown background": body["background"] = "paste"; break;
            case "decoder steps without decoder optimization": body["decoder_steps"] = 10; break;
            case "strength above 1": body["strength"] = 1.5; break;
            case "an unknown field": body["guidance"] = 7; break;
            case "image too many bytes": body["image"] = Convert.ToBase64String(new byte[EaselApiFactory.MaxInputImageBytes + 1]); break;
            case "an inpainting model": body["model"] = "sd15_inpaint"; break;
        }
        var jobsBefore = await Factory.CountJobsAsync();

        var response = await PostEditAsync(body);

        Assert.True((int)response.StatusCode == status, $"{@case}: expected {status}, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await ReadJsonAsync(response);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"{@case}: {problem}");
        Assert.Equal(jobsBefore, await Factory.CountJobsAsync());
    }
}

public sealed class EditApiTestsOnSqlite(SqliteApiFactory factory) : EditApiTests<SqliteApiFactory>(factory);

public sealed class EditApiTestsOnPostgres(PostgresApiFactory factory) : EditApiTests<PostgresApiFactory>(factory);
