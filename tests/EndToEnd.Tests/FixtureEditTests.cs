using System.Text.Json.Nodes;
using Easel.Testing;

namespace Easel.EndToEnd.Tests;

/// <summary>
/// Edit jobs on the tiny fixture models of each family, through HTTP, the queue and the worker on SQLite and PostgreSQL
/// (the bundled model's SD 1.5 layout is EditTests'): Blended Latent Diffusion on SD 2 and SDXL, a generated
/// Prompt-to-Prompt source on SD 1.5 and SDXL, a real-image source (null-text on SD 1.5, DDIM on SD 2), Imagic on SD 2;
/// SDXL's inversion and Imagic are refused at submit with 422.
/// </summary>
public abstract class FixtureEditTests<TFactory>(TFactory factory) : IClassFixture<TFactory>
    where TFactory : EaselApiFactory
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(5);
    private readonly HttpClient _client = factory.CreateClient();

    private static string Image() => Convert.ToBase64String(TestImages.Png());

    [Theory]
    [InlineData("sd2")]
    [InlineData("sdxl")]
    public async Task A_blended_edit_succeeds_on_each_family(string model)
    {
        var job = await JobRuns.SucceedAsync(_client, "/v1/edits", new JsonObject
        {
            ["method"] = "blended", ["model"] = model, ["prompt"] = "a red hat", ["image"] = Image(), ["mask"] = Convert.ToBase64String(TestImages.Mask()),
            ["steps"] = 2, ["seed"] = 1,
        }, Deadline);

        Assert.Single(job.GetProperty("images").EnumerateArray());
    }

    [Theory]
    [InlineData("sd15")]
    [InlineData("sdxl")]
    public async Task A_prompt_to_prompt_edit_of_a_generated_source_succeeds_on_each_family(string model)
    {
        var job = await JobRuns.SucceedAsync(_client, "/v1/edits", new JsonObject
        {
            ["method"] = "prompt_to_prompt", ["model"] = model, ["source"] = new JsonObject { ["prompt"] = "a red circle", ["seed"] = 1 },
            ["prompt"] = "a blue circle", ["width"] = 64, ["height"] = 64, ["steps"] = 2, ["scheduler"] = "ddim",
            ["local_blend"] = new JsonArray("circle"), ["reweight"] = new JsonObject { ["blue"] = 2 },
        }, Deadline);

        Assert.Equal(2, job.GetProperty("images").GetArrayLength());
    }

    [Theory]
    [InlineData("sd15", "null_text")]
    [InlineData("sd2", "ddim")]
    public async Task A_prompt_to_prompt_edit_of_a_real_image_succeeds(string model, string inversion)
    {
        var job = await JobRuns.SucceedAsync(_client, "/v1/edits", new JsonObject
        {
            ["method"] = "prompt_to_prompt", ["model"] = model, ["source"] = new JsonObject { ["prompt"] = "a red circle", ["image"] = Image() },
            ["prompt"] = "a blue circle", ["steps"] = 2, ["inversion"] = inversion,
        }, Deadline);

        Assert.Equal(2, job.GetProperty("images").GetArrayLength());
    }

    [Theory]
    [InlineData("sd2")]
    public async Task An_imagic_edit_trains_its_session_on_the_fixture_model(string model)
    {
        var job = await JobRuns.SucceedAsync(_client, "/v1/edits", new JsonObject
        {
            ["method"] = "imagic", ["model"] = model, ["image"] = Image(), ["prompt"] = "a blue circle", ["embedding_steps"] = 2, ["finetune_steps"] = 2,
            ["steps"] = 2,
        }, Deadline);

        Assert.Equal("edit_session", Assert.Single(job.GetProperty("artifacts").EnumerateArray()).GetProperty("kind").GetString());
    }

    [Fact]
    public async Task Imagic_on_sdxl_is_refused_at_submit_naming_the_model()
    {
        var response = await _client.PostAsync("/v1/edits", new StringContent(new JsonObject
        {
            ["method"] = "imagic", ["model"] = "sdxl", ["image"] = Image(), ["prompt"] = "a blue circle",
        }.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(422, (int)response.StatusCode);
        Assert.Contains("\"model\"", await response.Content.ReadAsStringAsync());
    }
}

public sealed class FixtureEditTestsOnSqlite(SqliteServiceFactory factory) : FixtureEditTests<SqliteServiceFactory>(factory);

public sealed class FixtureEditTestsOnPostgres(PostgresServiceFactory factory) : FixtureEditTests<PostgresServiceFactory>(factory);
