using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Easel.Testing;

namespace Easel.Api.Tests;

/// <summary>POST/GET/DELETE /v1/artifacts with the parity fixture's real LoRA and embedding files, API keys on.</summary>
public abstract class ArtifactApiTests<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : AuthApiFactory
{
    private static string Fixture(string path) => Path.Combine(TestPaths.FixtureModel(path.Split('/')[0]), path.Split('/')[1]);

    private async Task<HttpClient> NewKeyClientAsync(string name, long? maxStorageBytes = null)
    {
        var admin = Factory.CreateClient();
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AuthApiFactory.AdminKey);
        var response = await admin.PostAsJsonAsync("/v1/admin/keys", new { name, max_storage_bytes = maxStorageBytes });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var client = Factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (await ReadJsonAsync(response)).GetProperty("token").GetString());
        return client;
    }

    private static MultipartFormDataContent Upload(string file, string kind, string name, string? baseModel = null, string? fileName = null)
    {
        var form = new MultipartFormDataContent
        {
            { new ByteArrayContent(File.ReadAllBytes(file)), "file", fileName ?? Path.GetFileName(file) },
            { new StringContent(kind), "kind" },
            { new StringContent(name), "name" },
        };
        if (baseModel is not null)
            form.Add(new StringContent(baseModel), "base_model");
        return form;
    }

    [Theory]
    [InlineData("lora_sd15/lora_kohya.safetensors", "kohya")]
    [InlineData("lora_sd15/pytorch_lora_weights.safetensors", "diffusers")]
    [InlineData("lora_sd15/lora_peft_format.safetensors", "peft")]
    public async Task A_lora_in_each_layout_is_detected_checked_against_the_base_model_and_downloads_as_uploaded(string file, string format)
    {
        var client = await NewKeyClientAsync("alice");
        var response = await client.PostAsync("/v1/artifacts", Upload(Fixture(file), "lora", "style-" + format, "sd15"));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var artifact = await ReadJsonAsync(response);
        Assert.Equal(format, artifact.GetProperty("format").GetString());
        Assert.Equal("lora", artifact.GetProperty("kind").GetString());
        Assert.Equal(4, artifact.GetProperty("metadata").GetProperty("rank").GetInt32());
        Assert.True(artifact.GetProperty("metadata").GetProperty("base_model_checked").GetBoolean());
        Assert.Equal(response.Headers.Location!.OriginalString, "/v1/artifacts/" + artifact.GetProperty("id").GetString());
        var download = await client.GetAsync(artifact.GetProperty("file_url").GetString());
        Assert.Equal(File.ReadAllBytes(Fixture(file)), await download.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(artifact.GetProperty("file_url").GetString() + "?format=" + format)).StatusCode);
    }

    [Fact]
    public async Task A_lora_made_for_another_family_is_refused_at_generation_with_422_naming_it()
    {
        var client = await NewKeyClientAsync("alice");
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/v1/artifacts", Upload(Fixture("lora_sd15/lora_kohya.safetensors"), "lora", "sd15-style", "sd15"))).StatusCode);
        var body = ValidRequest();
        body["loras"] = new JsonArray(new JsonObject { ["artifact"] = "sd15-style" });

        var fits = await client.PostAsync("/v1/generations", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        body["model"] = "sdxl";
        var other = await client.PostAsync("/v1/generations", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.Accepted, fits.StatusCode);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, other.StatusCode);
        var message = (await ReadJsonAsync(other)).GetProperty("errors").GetProperty("loras[0].artifact")[0].GetString();
        Assert.Contains("sd15", message);
        Assert.Contains("sdxl", message);
    }

    [Theory]
    [InlineData("kohya", "diffusers")]
    [InlineData("kohya", "peft")]
    [InlineData("diffusers", "kohya")]
    public async Task A_lora_downloads_converted_to_another_layout_that_uploads_again_as_that_layout(string from, string to)
    {
        var files = new Dictionary<string, string>
        {
            ["kohya"] = "lora_sd15/lora_kohya.safetensors",
            ["diffusers"] = "lora_sd15/pytorch_lora_weights.safetensors",
        };
        var client = await NewKeyClientAsync("alice");
        var uploaded = await ReadJsonAsync(await client.PostAsync("/v1/artifacts", Upload(Fixture(files[from]), "lora", "source", "sd15")));

        var download = await client.GetAsync(uploaded.GetProperty("file_url").GetString() + "?format=" + to);
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        var converted = Path.Combine(Path.GetTempPath(), $"converted-{Guid.NewGuid():N}.safetensors");
        await File.WriteAllBytesAsync(converted, await download.Content.ReadAsByteArrayAsync());
        try
        {
            var again = await client.PostAsync("/v1/artifacts", Upload(converted, "lora", "converted", "sd15"));
            Assert.Equal(HttpStatusCode.Created, again.StatusCode);
            var artifact = await ReadJsonAsync(again);
            Assert.Equal(to, artifact.GetProperty("format").GetString());
            Assert.Equal(uploaded.GetProperty("metadata").GetProperty("rank").GetInt32(), artifact.GetProperty("metadata").GetProperty("rank").GetInt32());
        }
        finally
        {
            File.Delete(converted);
        }
    }

    [Theory]
    [InlineData("textual_inversion_sd15/learned_embeds.safetensors", "diffusers", 1)]
    [InlineData("textual_inversion_sd15/neg-style.safetensors", "a1111", 2)]
    public async Task An_embedding_is_detected_with_its_vector_count(string file, string format, int vectors)
    {
        var client = await NewKeyClientAsync("alice");
        var response = await client.PostAsync("/v1/artifacts", Upload(Fixture(file), "embedding", "emb-" + format, "sd15"));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var artifact = await ReadJsonAsync(response);
        Assert.Equal(format, artifact.GetProperty("format").GetString());
        Assert.Equal(vectors, artifact.GetProperty("metadata").GetProperty("vector_count").GetInt32());
    }

    [Fact]
    public async Task A_pickle_embedding_is_refused_with_415_naming_the_file()
    {
        var client = await NewKeyClientAsync("alice");
        var response = await client.PostAsync("/v1/artifacts", Upload(Fixture("textual_inversion_sd15/neg-style.pt"), "embedding", "neg"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Contains("pickle", (await ReadJsonAsync(response)).GetProperty("errors").GetProperty("file")[0].GetString());
    }

    [Fact]
    public async Task Pickle_content_under_a_safetensors_name_is_refused_with_415()
    {
        var client = await NewKeyClientAsync("alice");
        var response = await client.PostAsync("/v1/artifacts",
            Upload(Fixture("textual_inversion_sd15/neg-style.pt"), "embedding", "neg", fileName: "neg.safetensors"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    [Fact]
    public async Task An_embedding_of_another_width_than_the_base_model_is_refused_with_422_naming_its_key()
    {
        // Every fixture text encoder is 32 wide, so the misfit is a diffusers-layout embedding of 48 built here.
        var wide = Path.Combine(Path.GetTempPath(), $"wide-{Guid.NewGuid():N}.safetensors");
        File.WriteAllBytes(wide, SafeTensorsOfZeros("<wide-toy>", [1, 48]));
        try
        {
            var client = await NewKeyClientAsync("alice");
            var response = await client.PostAsync("/v1/artifacts", Upload(wide, "embedding", "toy", "sd15"));

            Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
            Assert.Contains("<wide-toy>", (await ReadJsonAsync(response)).GetProperty("errors").GetProperty("file")[0].GetString());
        }
        finally
        {
            File.Delete(wide);
        }
    }

    /// <summary>A safetensors file with one float32 tensor of zeros: an 8-byte header length, the JSON header, the data.</summary>
    private static byte[] SafeTensorsOfZeros(string key, long[] shape)
    {
        var bytes = shape.Aggregate(4L, (n, d) => n * d);
        var header = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            [key] = new { dtype = "F32", shape, data_offsets = new[] { 0, bytes } },
        });
        header = header.PadRight((header.Length + 7) / 8 * 8);
        var file = new MemoryStream();
        file.Write(BitConverter.GetBytes((ulong)header.Length));
        file.Write(System.Text.Encoding.UTF8.GetBytes(header));
        file.Write(new byte[bytes]);
        return file.ToArray();
    }

    [Fact]
    public async Task A_lora_whose_keys_fit_no_module_of_the_base_model_is_refused_with_422_naming_the_first_keys()
    {
        var client = await NewKeyClientAsync("alice");
        var response = await client.PostAsync("/v1/artifacts", Upload(Fixture("lora_sd15/lora_kohya.safetensors"), "lora", "wrong", "sdxl"));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Contains("lora_", (await ReadJsonAsync(response)).GetProperty("errors").GetProperty("file")[0].GetString());
    }

    [Fact]
    public async Task Missing_and_bad_fields_are_named()
    {
        var client = await NewKeyClientAsync("alice");
        var form = new MultipartFormDataContent { { new StringContent("checkpoint"), "kind" }, { new StringContent("bad name!"), "name" }, { new StringContent("nope"), "base_model" } };
        var response = await client.PostAsync("/v1/artifacts", form);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await ReadJsonAsync(response)).GetProperty("errors");
        foreach (var field in new[] { "file", "kind", "name", "base_model" })
            Assert.True(errors.TryGetProperty(field, out _), field);
    }

    [Fact]
    public async Task An_unknown_field_is_refused_with_the_closest_known_name()
    {
        var client = await NewKeyClientAsync("alice");
        var form = Upload(Fixture("lora_sd15/lora_kohya.safetensors"), "lora", "x");
        form.Add(new StringContent("sd15"), "base_modle");
        var response = await client.PostAsync("/v1/artifacts", form);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("base_model", (await ReadJsonAsync(response)).GetProperty("errors").GetProperty("base_modle")[0].GetString());
    }

    [Fact]
    public async Task A_taken_name_answers_409_until_the_artifact_is_deleted()
    {
        var client = await NewKeyClientAsync("alice");
        var first = await ReadJsonAsync(await client.PostAsync("/v1/artifacts", Upload(Fixture("lora_sd15/lora_kohya.safetensors"), "lora", "mine")));
        Assert.Equal(HttpStatusCode.Conflict, (await client.PostAsync("/v1/artifacts", Upload(Fixture("lora_sd15/lora_kohya.safetensors"), "lora", "mine"))).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync("/v1/artifacts/" + first.GetProperty("id").GetString())).StatusCode);

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/v1/artifacts/" + first.GetProperty("id").GetString())).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/v1/artifacts", Upload(Fixture("lora_sd15/lora_kohya.safetensors"), "lora", "mine"))).StatusCode);
    }

    [Fact]
    public async Task Another_keys_artifact_is_not_found_listed_downloaded_or_deleted()
    {
        var alice = await NewKeyClientAsync("alice");
        var bob = await NewKeyClientAsync("bob");
        var id = (await ReadJsonAsync(await alice.PostAsync("/v1/artifacts", Upload(Fixture("lora_sd15/lora_kohya.safetensors"), "lora", "private"))))
            .GetProperty("id").GetString();

        Assert.Equal(HttpStatusCode.NotFound, (await bob.GetAsync($"/v1/artifacts/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await bob.GetAsync($"/v1/artifacts/{id}/file")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await bob.DeleteAsync($"/v1/artifacts/{id}")).StatusCode);
        Assert.Empty((await ReadJsonAsync(await bob.GetAsync("/v1/artifacts"))).GetProperty("data").EnumerateArray());
        Assert.Equal(HttpStatusCode.OK, (await alice.GetAsync($"/v1/artifacts/{id}")).StatusCode);
    }

    [Fact]
    public async Task The_list_pages_newest_first_and_filters_by_kind()
    {
        var client = await NewKeyClientAsync("alice");
        foreach (var i in Enumerable.Range(0, 3))
            Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/v1/artifacts", Upload(Fixture("lora_sd15/lora_kohya.safetensors"), "lora", $"l{i}"))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/v1/artifacts", Upload(Fixture("textual_inversion_sd15/learned_embeds.safetensors"), "embedding", "e"))).StatusCode);

        var first = await ReadJsonAsync(await client.GetAsync("/v1/artifacts?kind=lora&limit=2"));
        var second = await ReadJsonAsync(await client.GetAsync($"/v1/artifacts?kind=lora&limit=2&cursor={first.GetProperty("next_cursor").GetString()}"));

        Assert.Equal(["l2", "l1"], first.GetProperty("data").EnumerateArray().Select(a => a.GetProperty("name").GetString()));
        Assert.Equal(["l0"], second.GetProperty("data").EnumerateArray().Select(a => a.GetProperty("name").GetString()));
        Assert.Equal(JsonValueKind.Null, second.GetProperty("next_cursor").ValueKind);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/v1/artifacts?kind=zip")).StatusCode);
    }

    [Fact]
    public async Task An_upload_over_the_keys_storage_quota_is_refused_with_413()
    {
        var size = new FileInfo(Fixture("lora_sd15/lora_kohya.safetensors")).Length;
        var client = await NewKeyClientAsync("small", maxStorageBytes: size + size / 2);

        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/v1/artifacts", Upload(Fixture("lora_sd15/lora_kohya.safetensors"), "lora", "a"))).StatusCode);
        var refused = await client.PostAsync("/v1/artifacts", Upload(Fixture("lora_sd15/lora_kohya.safetensors"), "lora", "b"));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refused.StatusCode);
        Assert.True((await ReadJsonAsync(refused)).GetProperty("errors").TryGetProperty("file", out _));
    }
}

public sealed class ArtifactApiTestsOnSqlite(SqliteAuthApiFactory factory) : ArtifactApiTests<SqliteAuthApiFactory>(factory);

public sealed class ArtifactApiTestsOnPostgres(PostgresAuthApiFactory factory) : ArtifactApiTests<PostgresAuthApiFactory>(factory);
