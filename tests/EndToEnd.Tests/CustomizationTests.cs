using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Easel.Testing;

namespace Easel.EndToEnd.Tests;

/// <summary>
/// LoRAs and embeddings over HTTP: the parity fixture's files uploaded as artifacts, then used by generations on the
/// sd15 fixture model through the queue, the worker and the real pipeline.
/// </summary>
public abstract class CustomizationTests<TFactory>(TFactory factory) : IClassFixture<TFactory>
    where TFactory : EaselApiFactory
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(5);
    private readonly HttpClient _client = factory.CreateClient();

    private static JsonObject Request(string prompt = "a red circle on a blue background") => new()
    {
        ["prompt"] = prompt,
        ["model"] = "sd15",
        ["width"] = 64,
        ["height"] = 64,
        ["steps"] = 2,
        ["guidance_scale"] = 7.5,
        ["seed"] = 42,
        ["scheduler"] = "euler",
    };

    private async Task<string> UploadAsync(string fixture, string kind, string name)
    {
        var path = Path.Combine(TestPaths.FixtureModel(fixture.Split('/')[0]), fixture.Split('/')[1]);
        var form = new MultipartFormDataContent
        {
            { new ByteArrayContent(await File.ReadAllBytesAsync(path)), "file", Path.GetFileName(path) },
            { new StringContent(kind), "kind" },
            { new StringContent(name), "name" },
            { new StringContent("sd15"), "base_model" },
        };
        var response = await _client.PostAsync("/v1/artifacts", form);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    [Fact]
    public async Task A_lora_changes_the_image_the_prompt_tag_equals_the_field_and_the_next_plain_request_has_the_base_pixels()
    {
        var name = "style-" + Guid.NewGuid().ToString("N")[..8];
        var id = await UploadAsync("lora_sd15/lora_kohya.safetensors", "lora", name);
        var before = await PixelsAsync(await RunAsync(Request()));

        var withField = Request();
        withField["loras"] = new JsonArray(new JsonObject { ["artifact"] = name, ["scale"] = 0.7 });
        var byField = await RunAsync(withField);
        var byTag = await RunAsync(Request($"a red circle <lora:{name}:0.7> on a blue background"));
        var after = await PixelsAsync(await RunAsync(Request()));

        Assert.NotEqual(before, await PixelsAsync(byField));
        Assert.Equal(await PixelsAsync(byField), await PixelsAsync(byTag));
        Assert.Equal(before, after);
        var shown = byTag.GetProperty("request");
        Assert.Equal("a red circle on a blue background", shown.GetProperty("prompt").GetString());
        var lora = Assert.Single(shown.GetProperty("loras").EnumerateArray());
        Assert.Equal((id, 0.7), (lora.GetProperty("artifact").GetString(), lora.GetProperty("scale").GetDouble()));
    }

    [Fact]
    public async Task A_lora_at_scale_zero_gives_the_base_model_pixels()
    {
        var name = "zero-" + Guid.NewGuid().ToString("N")[..8];
        await UploadAsync("lora_sd15/pytorch_lora_weights.safetensors", "lora", name);
        var body = Request();
        body["loras"] = new JsonArray(new JsonObject { ["artifact"] = name, ["scale"] = 0.0 });

        Assert.Equal(await PixelsAsync(await RunAsync(Request())), await PixelsAsync(await RunAsync(body)));
    }

    [Fact]
    public async Task An_embedding_token_in_the_prompt_changes_the_image_only_when_the_embedding_is_named()
    {
        var name = "toy-" + Guid.NewGuid().ToString("N")[..8];
        await UploadAsync("textual_inversion_sd15/learned_embeds.safetensors", "embedding", name);
        var plain = await PixelsAsync(await RunAsync(Request("a <cat-toy> on a blue background")));
        var body = Request("a <cat-toy> on a blue background");
        body["embeddings"] = new JsonArray(name);

        Assert.NotEqual(plain, await PixelsAsync(await RunAsync(body)));
    }

    [Fact]
    public async Task A_job_keeps_its_lora_when_the_artifact_is_deleted_after_submission()
    {
        var name = "gone-" + Guid.NewGuid().ToString("N")[..8];
        var id = await UploadAsync("lora_sd15/lora_peft_format.safetensors", "lora", name);
        var body = Request();
        body["loras"] = new JsonArray(new JsonObject { ["artifact"] = id });
        var submitted = await _client.PostAsync("/v1/generations", Json(body));
        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await _client.DeleteAsync($"/v1/artifacts/{id}")).StatusCode);

        var job = await JobPolling.UntilFinishedAsync(_client, submitted.Headers.Location!.OriginalString, Deadline);
        Assert.True(job.GetProperty("status").GetString() == "succeeded", $"job ended as {job}");
        var again = await _client.PostAsync("/v1/generations", Json(body));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, again.StatusCode);
    }

    [Fact]
    public async Task Unknown_artifacts_are_refused_with_422_naming_the_field_and_nothing_is_queued()
    {
        var body = Request("a circle <lora:nobody-has-this:0.5>");
        body["loras"] = new JsonArray(new JsonObject { ["artifact"] = "nor-this", ["scale"] = 1.0 });
        body["embeddings"] = new JsonArray("nor-that");

        var response = await _client.PostAsync("/v1/generations", Json(body));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        foreach (var field in new[] { "loras[0].artifact", "prompt", "embeddings[0]" })
            Assert.True(errors.TryGetProperty(field, out _), errors.ToString());
    }

    [Fact]
    public async Task A_bad_lora_scale_and_a_bad_prompt_tag_are_refused_with_400()
    {
        var body = Request("a circle <lora:x:strong>");
        body["loras"] = new JsonArray(new JsonObject { ["artifact"] = "x", ["scale"] = 50.0 });

        var response = await _client.PostAsync("/v1/generations", Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.True(errors.TryGetProperty("loras[0].scale", out _), errors.ToString());
        Assert.True(errors.TryGetProperty("prompt", out _), errors.ToString());
    }

    private Task<JsonElement> RunAsync(JsonObject body) => JobRuns.SucceedAsync(_client, "/v1/generations", body, Deadline);

    private async Task<byte[]> PixelsAsync(JsonElement job) => Assert.Single(await JobRuns.PixelsAsync(_client, job));

    private static StringContent Json(JsonObject body) => new(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json");
}

public sealed class CustomizationTestsOnSqlite(SqliteServiceFactory factory) : CustomizationTests<SqliteServiceFactory>(factory);

public sealed class CustomizationTestsOnPostgres(PostgresServiceFactory factory) : CustomizationTests<PostgresServiceFactory>(factory);
