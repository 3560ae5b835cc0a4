using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Easel.Testing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace Easel.EndToEnd.Tests;

/// <summary>
/// The whole path — HTTP → job row → Hangfire → worker → pipeline → PNG → blob store → HTTP — gives, for the request of
/// the fixture case pipe_sd15_txt2img_ddim, the image diffusers made: every channel within ±1.
/// </summary>
public abstract class GoldenGenerationTests<TFactory>(TFactory factory) : IClassFixture<TFactory>
    where TFactory : EaselApiFactory
{
    private const string Case = "pipe_sd15_txt2img_ddim";
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(5);

    [Fact]
    public async Task Generation_with_the_fixture_seed_returns_the_reference_image_within_one_level_per_channel()
    {
        var fixtures = TestPaths.ParityFixtures();
        using var caseJson = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(fixtures, "cases", $"{Case}.json")));
        var p = caseJson.RootElement.GetProperty("params");
        var request = new JsonObject
        {
            ["prompt"] = p.GetProperty("prompt").GetString(),
            ["negative_prompt"] = p.GetProperty("negative_prompt").GetString(),
            ["model"] = "sd15",
            ["width"] = p.GetProperty("width").GetInt32(),
            ["height"] = p.GetProperty("height").GetInt32(),
            ["steps"] = p.GetProperty("num_inference_steps").GetInt32(),
            ["guidance_scale"] = p.GetProperty("guidance_scale").GetDouble(),
            ["seed"] = p.GetProperty("latents_seed").GetInt64(),
            ["scheduler"] = SchedulerName(p.GetProperty("scheduler_class").GetString()!),
            ["num_images"] = 1,
        };
        var client = factory.CreateClient();

        var submitted = await client.PostAsync("/v1/generations",
            new StringContent(request.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
        var location = submitted.Headers.Location!.OriginalString;

        var job = await JobPolling.UntilFinishedAsync(client, location, Deadline);
        Assert.True(job.GetProperty("status").GetString() == "succeeded", $"job ended as {job}");
        Assert.Equal(1, job.GetProperty("attempts").GetInt32());
        var steps = request["steps"]!.GetValue<int>();
        Assert.Equal(steps, job.GetProperty("progress").GetProperty("step").GetInt32());
        Assert.Equal(steps, job.GetProperty("progress").GetProperty("total").GetInt32());
        var imageUrl = Assert.Single(job.GetProperty("images").EnumerateArray()).GetProperty("url").GetString()!;

        var pngResponse = await client.GetAsync(imageUrl);
        Assert.Equal(HttpStatusCode.OK, pngResponse.StatusCode);
        Assert.Equal("image/png", pngResponse.Content.Headers.ContentType?.MediaType);
        var png = await pngResponse.Content.ReadAsByteArrayAsync();

        using var actual = Image.Load<Rgb24>(png);
        using var expected = Image.Load<Rgb24>(Path.Combine(fixtures, "cases", $"{Case}.png"));
        Assert.Equal((expected.Width, expected.Height), (actual.Width, actual.Height));
        var worst = 0;
        for (var y = 0; y < expected.Height; y++)
        for (var x = 0; x < expected.Width; x++)
        {
            var a = actual[x, y];
            var e = expected[x, y];
            worst = Math.Max(worst, Math.Max(Math.Abs(a.R - e.R), Math.Max(Math.Abs(a.G - e.G), Math.Abs(a.B - e.B))));
        }
        Assert.True(worst <= 1, $"largest channel difference to the reference is {worst}");

        var text = actual.Metadata.GetPngMetadata().TextData.ToDictionary(t => t.Keyword, t => t.Value);
        Assert.StartsWith($"{request["prompt"]}\nNegative prompt: {request["negative_prompt"]}\nSteps: {steps}, Sampler: DDIM, CFG scale: 7.5, Seed: {request["seed"]}, Size: 64x64, Model: sd15",
            text["parameters"]);
        using var easel = JsonDocument.Parse(text["easel"]);
        Assert.Equal(request["seed"]!.GetValue<long>(), easel.RootElement.GetProperty("request").GetProperty("seed").GetInt64());
    }

    private static string SchedulerName(string diffusersClass) => diffusersClass switch
    {
        "DDIMScheduler" => "ddim",
        "EulerDiscreteScheduler" => "euler",
        _ => throw new InvalidOperationException($"The case uses {diffusersClass}, which the service does not offer."),
    };
}

public sealed class GoldenGenerationTestsOnSqlite(SqliteServiceFactory factory) : GoldenGenerationTests<SqliteServiceFactory>(factory);

public sealed class GoldenGenerationTestsOnPostgres(PostgresServiceFactory factory) : GoldenGenerationTests<PostgresServiceFactory>(factory);
