using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Easel.Testing;

namespace Easel.EndToEnd.Tests;

/// <summary>
/// Fine-tunes over HTTP on the sd15 fixture model: a short LoRA and textual-inversion run through the train queue and the
/// real trainers, the artifact with its lineage, and a generation that uses it.
/// </summary>
public abstract class FineTuneTests<TFactory>(TFactory factory) : IClassFixture<TFactory>
    where TFactory : EaselApiFactory
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(5);
    private readonly HttpClient _client = factory.CreateClient();

    private static JsonArray Images(int count, int size = 64) =>
        [.. Enumerable.Range(0, count).Select(_ => (JsonNode)Convert.ToBase64String(TestImages.Png(size, size)))];

    private static JsonObject Generation(string prompt) => new()
    {
        ["prompt"] = prompt,
        ["model"] = "sd15",
        ["width"] = 64,
        ["height"] = 64,
        ["steps"] = 2,
        ["seed"] = 42,
        ["scheduler"] = "euler",
    };

    [Fact]
    public async Task A_lora_fine_tune_ends_in_an_artifact_with_its_lineage_and_validation_images_that_a_generation_can_use()
    {
        var name = "ft-lora-" + Guid.NewGuid().ToString("N")[..8];
        var job = await RunAsync(new JsonObject
        {
            ["method"] = "lora",
            ["base_model"] = "sd15",
            ["images"] = Images(2),
            ["instance_prompt"] = "a sks pattern",
            ["steps"] = 4,
            ["rank"] = 2,
            ["learning_rate"] = 0.01,
            ["seed"] = 7,
            ["validation_prompts"] = new JsonArray("a sks pattern"),
            ["validate_every"] = 2,
            ["name"] = name,
        });

        Assert.Equal("fine_tune", job.GetProperty("kind").GetString());
        Assert.Equal(2, job.GetProperty("images").GetArrayLength()); // validation at steps 2 and 4
        var listed = Assert.Single(job.GetProperty("artifacts").EnumerateArray());
        Assert.Equal(("lora", name), (listed.GetProperty("kind").GetString(), listed.GetProperty("name").GetString()));
        var artifact = await _client.GetFromJsonAsync<JsonElement>($"/v1/artifacts/{listed.GetProperty("id").GetString()}");
        Assert.Equal(job.GetProperty("id").GetString(), artifact.GetProperty("job_id").GetString());
        Assert.Equal("sd15", artifact.GetProperty("base_model").GetString());
        Assert.Equal(64, artifact.GetProperty("base_model_hash").GetString()!.Length);
        Assert.Equal(64, artifact.GetProperty("metadata").GetProperty("dataset_hash").GetString()!.Length);
        Assert.Equal(4, artifact.GetProperty("metadata").GetProperty("training").GetProperty("steps").GetInt32());

        var plain = await PixelsAsync(await GenerateAsync(Generation("a sks pattern")));
        var with = Generation("a sks pattern");
        with["loras"] = new JsonArray(new JsonObject { ["artifact"] = name });
        Assert.NotEqual(plain, await PixelsAsync(await GenerateAsync(with)));
    }

    [Fact]
    public async Task A_textual_inversion_fine_tune_ends_in_an_embedding_whose_token_prompts_use()
    {
        var name = "ft-ti-" + Guid.NewGuid().ToString("N")[..8];
        var job = await RunAsync(new JsonObject
        {
            ["method"] = "textual_inversion",
            ["base_model"] = "sd15",
            ["images"] = Images(2),
            ["token"] = "<pattern>",
            ["initializer_token"] = "a", // the fixture vocabulary is tiny: "object", the default, is five tokens in it
            ["steps"] = 3,
            ["learning_rate"] = 0.05,
            ["seed"] = 7,
            ["name"] = name,
        });

        var listed = Assert.Single(job.GetProperty("artifacts").EnumerateArray());
        Assert.Equal("embedding", listed.GetProperty("kind").GetString());
        var with = Generation("a <pattern> on a blue background");
        with["embeddings"] = new JsonArray(name);
        var plain = await PixelsAsync(await GenerateAsync(Generation("a <pattern> on a blue background")));
        Assert.NotEqual(plain, await PixelsAsync(await GenerateAsync(with)));
    }

    [Fact]
    public async Task A_long_fine_tune_yields_to_a_generation_submitted_while_it_runs_and_resumes_to_success()
    {
        var submitted = await _client.PostAsync("/v1/fine-tunes", new StringContent(new JsonObject
        {
            ["method"] = "lora",
            ["base_model"] = "sd15",
            ["images"] = Images(1),
            ["instance_prompt"] = "a sks pattern",
            ["steps"] = 400,
            ["rank"] = 2,
            ["seed"] = 3,
        }.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
        var location = submitted.Headers.Location!.OriginalString;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while ((await _client.GetFromJsonAsync<JsonElement>(location)).GetProperty("progress").GetProperty("step").GetInt32() < 1)
        {
            Assert.True(clock.Elapsed < Deadline, "the fine-tune never started");
            await Task.Delay(50);
        }

        var generation = await GenerateAsync(Generation("a red circle"));
        var fineTune = await JobPolling.UntilFinishedAsync(_client, location, Deadline);

        Assert.True(fineTune.GetProperty("status").GetString() == "succeeded", fineTune.ToString());
        Assert.True(generation.GetProperty("finished_at").GetDateTimeOffset() < fineTune.GetProperty("started_at").GetDateTimeOffset(),
            $"the generation finished at {generation.GetProperty("finished_at")}, the fine-tune's last claim started at {fineTune.GetProperty("started_at")}");
        Assert.Equal(1, fineTune.GetProperty("attempts").GetInt32()); // a yield is not a failed attempt
    }

    public static TheoryData<string, string> BadRequests => new()
    {
        { """{"method":"lora","base_model":"sd15","instance_prompt":"x"}""", "images" },
        { """{"method":"dreambooth_xl","base_model":"sd15","instance_prompt":"x","images":["IMAGE"]}""", "method" },
        { """{"method":"lora","base_model":"nope","instance_prompt":"x","images":["IMAGE"]}""", "base_model" },
        { """{"method":"lora","base_model":"sd15","instance_prompt":"x","images":["IMAGE"],"steps":999999}""", "steps" },
        { """{"method":"lora","base_model":"sd15","instance_prompt":"x","images":["IMAGE"],"rank":100000}""", "rank" },
        { """{"method":"lora","base_model":"sd15","instance_prompt":"x","images":["IMAGE","SMALL"]}""", "images[1]" },
        { """{"method":"textual_inversion","base_model":"sd15","images":["IMAGE"]}""", "token" },
        { """{"method":"lora","base_model":"sd15","images":["IMAGE"]}""", "instance_prompt" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Bad_fine_tune_requests_are_refused_naming_the_field(string body, string field)
    {
        body = body.Replace("\"IMAGE\"", $"\"{Convert.ToBase64String(TestImages.Png())}\"")
            .Replace("\"SMALL\"", $"\"{Convert.ToBase64String(TestImages.Png(32, 32))}\"");
        var response = await _client.PostAsync("/v1/fine-tunes", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.True(response.StatusCode is HttpStatusCode.BadRequest, await response.Content.ReadAsStringAsync());
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out _), errors.ToString());
    }

    private Task<JsonElement> RunAsync(JsonObject body) => JobRuns.SucceedAsync(_client, "/v1/fine-tunes", body, Deadline);

    private Task<JsonElement> GenerateAsync(JsonObject body) => JobRuns.SucceedAsync(_client, "/v1/generations", body, Deadline);

    private async Task<byte[]> PixelsAsync(JsonElement job) => Assert.Single(await JobRuns.PixelsAsync(_client, job));
}

public sealed class FineTuneTestsOnSqlite(SqliteServiceFactory factory) : FineTuneTests<SqliteServiceFactory>(factory);

public sealed class FineTuneTestsOnPostgres(PostgresServiceFactory factory) : FineTuneTests<PostgresServiceFactory>(factory);
