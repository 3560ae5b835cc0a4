using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Easel.Testing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Easel.Api.Tests;

/// <summary>POST /v1/preprocess: control maps as PNG from JSON or multipart, and problems naming the field for bad input.</summary>
public abstract class PreprocessApiTests<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : EaselApiFactory
{
    private Task<HttpResponseMessage> PostAsync(JsonObject body) =>
        Client.PostAsync("/v1/preprocess", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));

    private static JsonObject Body(string preprocessor, byte[]? image = null) =>
        new() { ["preprocessor"] = preprocessor, ["image"] = Convert.ToBase64String(image ?? TestImages.Png()) };

    private static async Task<Image<Rgb24>> MapAsync(HttpResponseMessage response)
    {
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        Assert.Equal("image/png", response.Content.Headers.ContentType?.MediaType);
        return Image.Load<Rgb24>(await response.Content.ReadAsByteArrayAsync());
    }

    private static async Task<JsonElement> RefusedAsync(HttpResponseMessage response, HttpStatusCode status, string field)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = JsonDocument.Parse(text).RootElement.GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out _), $"errors {errors} do not name '{field}'");
        return errors;
    }

    [Theory]
    [InlineData("canny")]
    [InlineData("scribble")]
    [InlineData("lineart")]
    [InlineData("color")]
    [InlineData("shuffle")]
    [InlineData("invert")]
    [InlineData("none")]
    public async Task Every_preprocessor_answers_a_png_of_the_image_size(string preprocessor)
    {
        using var map = await MapAsync(await PostAsync(Body(preprocessor, TestImages.Png(96, 64))));

        Assert.Equal((96, 64), (map.Width, map.Height));
    }

    [Fact]
    public async Task Invert_answers_the_inverted_pixels()
    {
        using var input = Image.Load<Rgb24>(TestImages.Png());

        using var map = await MapAsync(await PostAsync(Body("invert")));

        Assert.Equal(new Rgb24((byte)(255 - input[10, 20].R), (byte)(255 - input[10, 20].G), (byte)(255 - input[10, 20].B)), map[10, 20]);
    }

    [Fact]
    public async Task Width_height_and_resize_mode_size_the_map()
    {
        var body = Body("none");
        body["width"] = 128;
        body["height"] = 64;
        body["resize_mode"] = "fill";

        using var map = await MapAsync(await PostAsync(body));

        Assert.Equal((128, 64), (map.Width, map.Height));
    }

    [Fact]
    public async Task Multipart_with_an_image_file_part_is_accepted()
    {
        var form = TestImages.Multipart(new JsonObject { ["preprocessor"] = "canny", ["low_threshold"] = 50 }, TestImages.Png());

        using var map = await MapAsync(await Client.PostAsync("/v1/preprocess", form));

        Assert.Equal((64, 64), (map.Width, map.Height));
    }

    [Fact]
    public async Task Unknown_preprocessor_is_422_naming_it_with_the_known_names()
    {
        var errors = await RefusedAsync(await PostAsync(Body("depth_midas")), HttpStatusCode.UnprocessableEntity, "preprocessor");

        Assert.Contains("canny", errors.GetProperty("preprocessor")[0].GetString());
    }

    [Fact]
    public async Task Unknown_field_is_400_naming_it()
    {
        var body = Body("canny");
        body["low_treshold"] = 50;

        var errors = await RefusedAsync(await PostAsync(body), HttpStatusCode.BadRequest, "low_treshold");

        Assert.Contains("did you mean 'low_threshold'?", errors.GetProperty("low_treshold")[0].GetString());
    }

    [Fact]
    public async Task Data_that_is_not_an_image_is_400_naming_image_as_generations_do()
    {
        await RefusedAsync(await PostAsync(Body("canny", Encoding.UTF8.GetBytes("not an image at all"))), HttpStatusCode.BadRequest, "image");
        await RefusedAsync(await PostAsync(Body("canny", TestImages.Gif())), HttpStatusCode.BadRequest, "image");
        await RefusedAsync(await PostAsync(new JsonObject { ["preprocessor"] = "canny" }), HttpStatusCode.BadRequest, "image");
    }

    [Fact]
    public async Task Image_over_the_byte_limit_is_413_naming_image()
    {
        await RefusedAsync(await PostAsync(Body("canny", new byte[EaselApiFactory.MaxInputImageBytes + 1024])),
            HttpStatusCode.RequestEntityTooLarge, "image");
    }

    [Fact]
    public async Task A_parameter_the_preprocessor_does_not_use_is_400_naming_it()
    {
        var body = Body("color");
        body["seed"] = 3;

        var errors = await RefusedAsync(await PostAsync(body), HttpStatusCode.BadRequest, "seed");

        Assert.Contains("shuffle", errors.GetProperty("seed")[0].GetString());
    }

    [Fact]
    public async Task Low_threshold_above_high_threshold_is_400()
    {
        var body = Body("canny");
        body["low_threshold"] = 300;
        body["high_threshold"] = 200;

        await RefusedAsync(await PostAsync(body), HttpStatusCode.BadRequest, "low_threshold");
    }

    [Fact]
    public async Task Width_without_height_is_400()
    {
        var body = Body("none");
        body["width"] = 128;

        await RefusedAsync(await PostAsync(body), HttpStatusCode.BadRequest, "height");
    }

    [Fact]
    public async Task Another_content_type_is_415()
    {
        var content = new ByteArrayContent(TestImages.Png());
        content.Headers.ContentType = new MediaTypeHeaderValue("image/png");

        var response = await Client.PostAsync("/v1/preprocess", content);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    [Fact]
    public async Task Preprocessing_every_map_leaves_libtorch_unloaded()
    {
        foreach (var name in new[] { "canny", "scribble", "lineart", "color", "shuffle", "invert", "none" })
            (await MapAsync(await PostAsync(Body(name)))).Dispose();

        Assert.DoesNotContain("libtorch", File.ReadAllText("/proc/self/maps"));
    }
}

public sealed class PreprocessApiTestsOnSqlite(SqliteApiFactory factory) : PreprocessApiTests<SqliteApiFactory>(factory);

public sealed class PreprocessApiTestsOnPostgres(PostgresApiFactory factory) : PreprocessApiTests<PostgresApiFactory>(factory);
