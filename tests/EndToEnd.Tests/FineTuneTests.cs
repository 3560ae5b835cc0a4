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

    [Fact]
    public async Task A_multipart_fine_tune_with_image_files_and_repeated_captions_stores_the_dataset_its_json_twin_stores()
    {
        string[] captions = ["a sks pattern, on the left", "a sks pattern"];
        byte[][] images = [TestImages.Png(), TestImages.Jpeg()];
        var json = await SubmitAsync(new StringContent(new JsonObject
        {
            ["method"] = "lora",
            ["base_model"] = "sd15",
            ["images"] = new JsonArray([.. images.Select(i => (JsonNode)Convert.ToBase64String(i))]),
            ["captions"] = new JsonArray([.. captions.Select(c => (JsonNode)c)]),
            ["steps"] = 1,
            ["seed"] = 5,
        }.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
        using var form = new MultipartFormDataContent
        {
            { new StringContent("lora"), "method" },
            { new StringContent("sd15"), "base_model" },
            { new StringContent(captions[0]), "captions" },
            { new StringContent(captions[1]), "captions" },
            { new StringContent("1"), "steps" },
            { new StringContent("5"), "seed" },
        };
        for (var i = 0; i < images.Length; i++)
            form.Add(new ByteArrayContent(images[i]), "images", $"image{i}.png");
        var multipart = await SubmitAsync(form);

        var stored = json.GetProperty("request");
        Assert.Equal(captions, stored.GetProperty("captions").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal(stored.GetProperty("images").ToString(), multipart.GetProperty("request").GetProperty("images").ToString());
        Assert.Equal(stored.GetProperty("captions").ToString(), multipart.GetProperty("request").GetProperty("captions").ToString());
        Assert.Equal(stored.GetProperty("dataset_hash").GetString(), multipart.GetProperty("request").GetProperty("dataset_hash").GetString());
        foreach (var job in new[] { json, multipart })
            await JobPolling.UntilFinishedAsync(_client, $"/v1/jobs/{job.GetProperty("id").GetString()}", Deadline);
    }

    [Fact]
    public async Task A_zip_dataset_with_kohya_captions_trains_on_its_images_in_path_order_with_their_captions()
    {
        var archive = Zip(("b.png", TestImages.Png()), ("b.txt", "a sks pattern, second"u8.ToArray()), ("a.png", TestImages.Png()));
        using var form = new MultipartFormDataContent
        {
            { new StringContent("lora"), "method" },
            { new StringContent("sd15"), "base_model" },
            { new StringContent("a sks pattern"), "instance_prompt" },
            { new StringContent("2"), "steps" },
            { new ByteArrayContent(archive), "dataset", "dataset.zip" },
        };
        var submitted = await SubmitAsync(form);
        var job = await JobPolling.UntilFinishedAsync(_client, $"/v1/jobs/{submitted.GetProperty("id").GetString()}", Deadline);

        Assert.True(job.GetProperty("status").GetString() == "succeeded", job.ToString());
        Assert.Equal(["a sks pattern", "a sks pattern, second"], job.GetProperty("request").GetProperty("captions").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal(2, job.GetProperty("request").GetProperty("images").GetArrayLength());
    }

    [Theory]
    [InlineData("not-a-zip", "dataset")]
    [InlineData("orphan-caption", "dataset")]
    [InlineData("uncaptioned-without-instance-prompt", "instance_prompt")]
    [InlineData("images-and-dataset", "dataset")]
    public async Task Bad_datasets_are_refused_naming_the_field(string variant, string field)
    {
        var image = TestImages.Png();
        using var form = new MultipartFormDataContent { { new StringContent("lora"), "method" }, { new StringContent("sd15"), "base_model" } };
        var archive = variant switch
        {
            "not-a-zip" => image,
            "orphan-caption" => Zip(("a.png", image), ("b.txt", "a sks pattern"u8.ToArray())),
            _ => Zip(("a.png", image)),
        };
        form.Add(new ByteArrayContent(archive), "dataset", "dataset.zip");
        if (variant == "images-and-dataset")
            form.Add(new ByteArrayContent(image), "images", "a.png");
        if (variant != "uncaptioned-without-instance-prompt")
            form.Add(new StringContent("a sks pattern"), "instance_prompt");

        var response = await _client.PostAsync("/v1/fine-tunes", form);

        Assert.True(response.StatusCode is HttpStatusCode.BadRequest, await response.Content.ReadAsStringAsync());
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out _), errors.ToString());
    }

    private static byte[] Zip(params (string Name, byte[] Bytes)[] entries)
    {
        using var buffer = new MemoryStream();
        using (var zip = new System.IO.Compression.ZipArchive(buffer, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true))
            foreach (var (name, bytes) in entries)
            {
                using var stream = zip.CreateEntry(name).Open();
                stream.Write(bytes);
            }
        return buffer.ToArray();
    }

    private async Task<JsonElement> SubmitAsync(HttpContent content)
    {
        var response = await _client.PostAsync("/v1/fine-tunes", content);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        return await response.Content.ReadFromJsonAsync<JsonElement>();
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
