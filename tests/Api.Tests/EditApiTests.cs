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

    public static TheoryData<string, int, string> BadEdits => new()
    {
        { "no method", 400, "method" },
        { "unknown method", 400, "method" },
        { "a method not offered yet", 400, "method" },
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
            case "a method not offered yet": body["method"] = "imagic"; break;
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
