using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Easel.Core.Generation;
using Easel.Core.Jobs;
using Easel.Core.Storage;
using Easel.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Easel.Api.Tests;

/// <summary>Image-to-image and inpainting requests on POST /v1/generations: JSON with base64 images, and multipart.</summary>
public abstract class ImageInputTests<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : EaselApiFactory
{
    private static JsonObject ImageRequest(byte[]? image = null, byte[]? mask = null, string model = "sd15")
    {
        var body = ValidRequest();
        body.Remove("width");
        body.Remove("height");
        body["model"] = model;
        body["steps"] = 2;
        body["image"] = Convert.ToBase64String(image ?? TestImages.Png());
        if (mask is not null)
            body["mask"] = Convert.ToBase64String(mask);
        return body;
    }

    private static JsonObject FormFields()
    {
        var body = ValidRequest();
        body.Remove("width");
        body.Remove("height");
        body["steps"] = 2;
        return body;
    }

    private Task<HttpResponseMessage> PostMultipartAsync(JsonObject fields, byte[]? image, byte[]? mask = null) =>
        Client.PostAsync("/v1/generations", TestImages.Multipart(fields, image, mask));

    private async Task<JsonElement> AcceptedRequestAsync(HttpResponseMessage response)
    {
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return (await ReadJsonAsync(response)).GetProperty("request");
    }

    /// <summary>The blob the request refers to is the PNG the worker will read, and the row holds no pixels.</summary>
    private async Task AssertStoredAsync(JsonElement request, string field, int width, int height)
    {
        var stored = request.GetProperty(field);
        Assert.Equal((width, height), (stored.GetProperty("width").GetInt32(), stored.GetProperty("height").GetInt32()));
        var blobs = Factory.Services.GetRequiredService<IBlobStore>();
        Assert.True(blobs.Exists(stored.GetProperty("blob").GetString()!));
    }

    [Fact]
    public async Task Image_to_image_as_base64_json_is_accepted_with_the_image_stored_as_a_blob_and_referenced()
    {
        var response = await PostGenerationAsync(ImageRequest());

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var job = await ReadJsonAsync(response);
        var request = job.GetProperty("request");
        Assert.Equal("image_to_image", request.GetProperty("mode").GetString());
        Assert.Equal(0.8, request.GetProperty("strength").GetDouble());
        Assert.Equal((64, 64), (request.GetProperty("width").GetInt32(), request.GetProperty("height").GetInt32()));
        await AssertStoredAsync(request, "image", 64, 64);
        var id = job.GetProperty("id").GetGuid();
        var row = await Factory.WithDbAsync(db => db.Jobs.AsNoTracking().SingleAsync(j => j.Id == id));
        Assert.True(row.Request.Length < 2000, $"the stored request should refer to the image, not inline it: {row.Request.Length} chars");
    }

    [Fact]
    public async Task Jpeg_data_uri_is_accepted()
    {
        var body = ImageRequest();
        body["image"] = "data:image/jpeg;base64," + Convert.ToBase64String(TestImages.Jpeg());

        await AssertStoredAsync(await AcceptedRequestAsync(await PostGenerationAsync(body)), "image", 64, 64);
    }

    [Fact]
    public async Task Inpaint_as_base64_json_is_accepted_with_strength_one_and_both_inputs_stored()
    {
        var request = await AcceptedRequestAsync(await PostGenerationAsync(ImageRequest(mask: TestImages.Mask(), model: "sd15_inpaint")));

        Assert.Equal("inpaint", request.GetProperty("mode").GetString());
        Assert.Equal(1.0, request.GetProperty("strength").GetDouble());
        await AssertStoredAsync(request, "image", 64, 64);
        await AssertStoredAsync(request, "mask", 64, 64);
    }

    [Fact]
    public async Task Inpaint_on_a_model_without_an_inpainting_unet_is_accepted()
    {
        var request = await AcceptedRequestAsync(await PostGenerationAsync(ImageRequest(mask: TestImages.Mask(), model: "sd15")));

        Assert.Equal("inpaint", request.GetProperty("mode").GetString());
    }

    [Fact]
    public async Task Image_to_image_as_multipart_is_accepted()
    {
        var fields = FormFields();
        fields["strength"] = 0.5;

        var request = await AcceptedRequestAsync(await PostMultipartAsync(fields, TestImages.Png()));

        Assert.Equal("image_to_image", request.GetProperty("mode").GetString());
        Assert.Equal(0.5, request.GetProperty("strength").GetDouble());
        Assert.Equal(42, request.GetProperty("seed").GetInt64());
        await AssertStoredAsync(request, "image", 64, 64);
    }

    [Fact]
    public async Task Inpaint_as_multipart_is_accepted()
    {
        var fields = FormFields();
        fields["model"] = "sd15_inpaint";

        var request = await AcceptedRequestAsync(await PostMultipartAsync(fields, TestImages.Png(), TestImages.Mask()));

        Assert.Equal("inpaint", request.GetProperty("mode").GetString());
        await AssertStoredAsync(request, "mask", 64, 64);
    }

    [Theory]
    [InlineData("DPM++ 2M Karras", "dpmpp_2m_karras")]
    [InlineData("euler A", "euler_a")]
    [InlineData("k_euler_a", "euler_a")]
    [InlineData("  LMS   karras ", "lms_karras")]
    [InlineData("PLMS", "pndm")]
    public async Task A1111_scheduler_aliases_are_accepted_case_insensitively_and_stored_canonical(string given, string canonical)
    {
        var body = ValidRequest();
        body["scheduler"] = given;

        var request = await AcceptedRequestAsync(await PostGenerationAsync(body));

        Assert.Equal(canonical, request.GetProperty("scheduler").GetString());
    }

    public static TheoryData<string, int, string, string> BadJsonInputs => new()
    {
        // case, expected status, field named, how to spoil the request (see Spoil)
        { "image is not base64", 400, "image", "image=not base64!" },
        { "image is not an image", 400, "image", "image=bytes" },
        { "image is a GIF", 400, "image", "image=gif" },
        { "image has too many pixels (header only)", 400, "image", "image=huge" },
        { "image side not a multiple of the VAE factor", 400, "image", "image=63x64" },
        { "image too small", 400, "image", "image=32x32" },
        { "image too many bytes", 413, "image", "image=big" },
        { "mask of another size", 400, "mask", "mask=32x32" },
        { "mask is not an image", 400, "mask", "mask=bytes" },
        { "mask without an image", 400, "mask", "no image" },
        { "strength zero", 400, "strength", "strength=0" },
        { "strength above one", 400, "strength", "strength=1.5" },
        { "strength without an image", 400, "strength", "strength, no image" },
        { "width differs from the image", 400, "width", "width=128" },
        { "text-to-image on an inpainting model", 422, "image", "txt2img on sd15_inpaint" },
    };

    private static JsonObject Spoil(string how)
    {
        var body = ImageRequest();
        switch (how)
        {
            case "image=not base64!": body["image"] = "not base64!"; break;
            case "image=bytes": body["image"] = Convert.ToBase64String("this is not an image at all"u8.ToArray()); break;
            case "image=gif": body["image"] = Convert.ToBase64String(TestImages.Gif()); break;
            case "image=huge": body["image"] = Convert.ToBase64String(TestImages.SolidPng(4096, 4096)); break;
            case "image=63x64": body["image"] = Convert.ToBase64String(TestImages.Png(63, 64)); break;
            case "image=32x32": body["image"] = Convert.ToBase64String(TestImages.Png(32, 32)); break;
            case "image=big": body["image"] = Convert.ToBase64String(RandomBytes(EaselApiFactory.MaxInputImageBytes + 1)); break;
            case "mask=32x32": body["mask"] = Convert.ToBase64String(TestImages.Mask(32, 32)); break;
            case "mask=bytes": body["mask"] = Convert.ToBase64String(RandomBytes(100)); break;
            case "no image": body.Remove("image"); body["mask"] = Convert.ToBase64String(TestImages.Mask()); break;
            case "strength=0": body["strength"] = 0.0; break;
            case "strength=1.5": body["strength"] = 1.5; break;
            case "strength, no image": body.Remove("image"); body["width"] = 64; body["height"] = 64; body["strength"] = 0.5; break;
            case "width=128": body["width"] = 128; break;
            case "txt2img on sd15_inpaint": body.Remove("image"); body["width"] = 64; body["height"] = 64; body["model"] = "sd15_inpaint"; break;
            default: throw new ArgumentException(how);
        }
        return body;
    }

    private static byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        new Random(7).NextBytes(bytes);
        return bytes;
    }

    [Theory]
    [MemberData(nameof(BadJsonInputs))]
    public async Task Bad_image_input_as_json_is_a_problem_naming_the_field_and_no_job_is_created(string @case, int status, string field, string how)
    {
        var jobsBefore = await Factory.CountJobsAsync();

        var response = await PostGenerationAsync(Spoil(how));

        await AssertProblemAsync(response, @case, status, field);
        Assert.Equal(jobsBefore, await Factory.CountJobsAsync());
    }

    public static TheoryData<string, int, string> BadMultipartInputs => new()
    {
        { "image file is not an image", 400, "image" },
        { "image file is a GIF", 400, "image" },
        { "image file too many bytes", 413, "image" },
        { "mask file of another size", 400, "mask" },
        { "steps not a number", 400, "steps" },
    };

    [Theory]
    [MemberData(nameof(BadMultipartInputs))]
    public async Task Bad_image_input_as_multipart_is_a_problem_naming_the_field_and_no_job_is_created(string @case, int status, string field)
    {
        var jobsBefore = await Factory.CountJobsAsync();
        var fields = FormFields();
        byte[] image = TestImages.Png();
        byte[]? mask = null;
        switch (@case)
        {
            case "image file is not an image": image = RandomBytes(500); break;
            case "image file is a GIF": image = TestImages.Gif(); break;
            case "image file too many bytes": image = RandomBytes(EaselApiFactory.MaxInputImageBytes + 1); break;
            case "mask file of another size": mask = TestImages.Mask(64, 32); break;
            case "steps not a number": fields["steps"] = "many"; break;
        }

        var response = await PostMultipartAsync(fields, image, mask);

        await AssertProblemAsync(response, @case, status, field);
        Assert.Equal(jobsBefore, await Factory.CountJobsAsync());
    }

    [Fact]
    public async Task Other_content_types_are_refused_with_415()
    {
        var response = await Client.PostAsync("/v1/generations", new StringContent("prompt=a cat", System.Text.Encoding.UTF8, "text/plain"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, string @case, int status, string field)
    {
        Assert.True((int)response.StatusCode == status,
            $"{@case}: expected {status}, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await ReadJsonAsync(response);
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out var messages), $"{@case}: errors {errors} do not name '{field}'");
        Assert.NotEmpty(messages.EnumerateArray());
    }
}

public sealed class ImageInputTestsOnSqlite(SqliteApiFactory factory) : ImageInputTests<SqliteApiFactory>(factory);

public sealed class ImageInputTestsOnPostgres(PostgresApiFactory factory) : ImageInputTests<PostgresApiFactory>(factory);
