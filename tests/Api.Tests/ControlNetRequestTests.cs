using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Easel.Core.Storage;
using Easel.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Easel.Api.Tests;

/// <summary>controlnets[], adapters[] and grounding on POST /v1/generations: accepted units are stored with their defaults, bad ones refused naming the field.</summary>
public abstract class ControlNetRequestTests<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : EaselApiFactory
{
    private static JsonObject WithUnits(params JsonObject[] units)
    {
        var body = ValidRequest();
        body["controlnets"] = new JsonArray(units);
        return body;
    }

    private static JsonObject Unit(string model = "controlnet_sd15") =>
        new() { ["model"] = model, ["image"] = Convert.ToBase64String(TestImages.Png()) };

    private async Task<JsonElement> RefusedAsync(JsonObject body, HttpStatusCode status, string field)
    {
        var before = await Factory.CountJobsAsync();
        var response = await PostGenerationAsync(body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = JsonDocument.Parse(text).RootElement.GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out _), $"errors {errors} do not name '{field}'");
        Assert.Equal(before, await Factory.CountJobsAsync());
        return errors.GetProperty(field);
    }

    [Fact]
    public async Task A_unit_is_accepted_with_its_defaults_and_its_image_stored_as_a_blob()
    {
        var response = await PostGenerationAsync(WithUnits(Unit()));

        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var unit = (await ReadJsonAsync(response)).GetProperty("request").GetProperty("controlnets")[0];
        Assert.Equal("controlnet_sd15", unit.GetProperty("model").GetString());
        Assert.Equal(1.0, unit.GetProperty("scale").GetDouble());
        Assert.Equal((0.0, 1.0), (unit.GetProperty("start").GetDouble(), unit.GetProperty("end").GetDouble()));
        Assert.False(unit.GetProperty("guess_mode").GetBoolean());
        Assert.Equal("balanced", unit.GetProperty("control_mode").GetString());
        Assert.Equal("none", unit.GetProperty("preprocessor").GetString());
        Assert.Equal("crop", unit.GetProperty("resize_mode").GetString());
        var blob = unit.GetProperty("image").GetProperty("blob").GetString()!;
        Assert.True(Factory.Services.GetRequiredService<IBlobStore>().Exists(blob));
    }

    [Fact]
    public async Task The_shown_request_with_its_stored_control_image_submits_again()
    {
        var unit = Unit();
        unit["preprocessor"] = "Canny";
        unit["low_threshold"] = 50;
        unit["control_mode"] = "My prompt is more important";
        var first = await PostGenerationAsync(WithUnits(unit));
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        var shown = JsonNode.Parse((await ReadJsonAsync(first)).GetProperty("request").GetRawText())!.AsObject();
        Assert.Equal("canny", shown["controlnets"]![0]!["preprocessor"]!.GetValue<string>());
        Assert.Equal("prompt_more_important", shown["controlnets"]![0]!["control_mode"]!.GetValue<string>());

        var again = await PostGenerationAsync(shown);

        Assert.True(again.StatusCode == HttpStatusCode.Accepted, await again.Content.ReadAsStringAsync());
        Assert.Equal(shown["controlnets"]!.ToJsonString(),
            JsonNode.Parse((await ReadJsonAsync(again)).GetProperty("request").GetRawText())!["controlnets"]!.ToJsonString());
    }

    private static MultipartFormDataContent MultipartWithUnitImage(string part)
    {
        var fields = ValidRequest();
        fields["controlnets"] = new JsonArray(new JsonObject { ["model"] = "controlnet_sd15", ["preprocessor"] = "canny" });
        var content = TestImages.Multipart(fields);
        var file = new ByteArrayContent(TestImages.Png());
        file.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("image/png");
        content.Add(file, part, "edges.png");
        return content;
    }

    [Fact]
    public async Task In_multipart_a_units_image_is_a_file_part_named_by_its_index()
    {
        var response = await Client.PostAsync("/v1/generations", MultipartWithUnitImage("controlnets[0].image"));

        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var unit = (await ReadJsonAsync(response)).GetProperty("request").GetProperty("controlnets")[0];
        Assert.Equal("canny", unit.GetProperty("preprocessor").GetString());
        Assert.True(Factory.Services.GetRequiredService<IBlobStore>().Exists(unit.GetProperty("image").GetProperty("blob").GetString()!));
    }

    [Fact]
    public async Task In_multipart_a_file_part_for_a_unit_the_form_does_not_have_is_refused_naming_it()
    {
        var before = await Factory.CountJobsAsync();
        var response = await Client.PostAsync("/v1/generations", MultipartWithUnitImage("controlnets[1].image"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await ReadJsonAsync(response)).GetProperty("errors");
        Assert.True(errors.TryGetProperty("controlnets[1].image", out _), errors.ToString());
        Assert.Equal(before, await Factory.CountJobsAsync());
    }

    [Fact]
    public async Task A_controlnet_of_another_family_is_refused_with_422_naming_the_unit()
    {
        var message = await RefusedAsync(WithUnits(Unit(), Unit("controlnet_sdxl")), HttpStatusCode.UnprocessableEntity, "controlnets[1].model");
        Assert.Contains("sdxl", message[0].GetString());
    }

    [Fact]
    public async Task An_unknown_controlnet_and_a_pipeline_named_as_one_are_refused_with_422()
    {
        await RefusedAsync(WithUnits(Unit("no-such-controlnet")), HttpStatusCode.UnprocessableEntity, "controlnets[0].model");
        await RefusedAsync(WithUnits(Unit("sd2")), HttpStatusCode.UnprocessableEntity, "controlnets[0].model");
    }

    [Fact]
    public async Task A_controlnet_named_as_the_model_is_refused_with_422()
    {
        var body = ValidRequest();
        body["model"] = "controlnet_sd15";
        await RefusedAsync(body, HttpStatusCode.UnprocessableEntity, "model");
    }

    [Theory]
    [InlineData("image", "bm90IGFuIGltYWdl", "controlnets[0].image")]
    [InlineData("scale", 2.5, "controlnets[0].scale")]
    [InlineData("start", -0.1, "controlnets[0].start")]
    [InlineData("end", 0.0, "controlnets[0].end")]
    [InlineData("control_mode", "louder", "controlnets[0].control_mode")]
    [InlineData("preprocessor", "depth_midas", "controlnets[0].preprocessor")]
    [InlineData("resize_mode", "stretch", "controlnets[0].resize_mode")]
    public async Task A_bad_unit_field_is_refused_with_400_naming_it(string field, object value, string named)
    {
        var unit = Unit();
        unit[field] = JsonValue.Create(value);
        await RefusedAsync(WithUnits(unit), HttpStatusCode.BadRequest, named);
    }

    [Fact]
    public async Task Start_at_or_after_end_is_refused()
    {
        var unit = Unit();
        unit["start"] = 0.6;
        unit["end"] = 0.4;
        await RefusedAsync(WithUnits(unit), HttpStatusCode.BadRequest, "controlnets[0].end");
    }

    [Fact]
    public async Task A_preprocessor_parameter_of_another_preprocessor_is_refused()
    {
        var unit = Unit();
        unit["preprocessor"] = "invert";
        unit["low_threshold"] = 20;
        var message = await RefusedAsync(WithUnits(unit), HttpStatusCode.BadRequest, "controlnets[0].low_threshold");
        Assert.Contains("canny", message[0].GetString());
    }

    [Fact]
    public async Task A_unit_without_an_image_and_more_units_than_allowed_are_refused()
    {
        var unit = Unit();
        unit.Remove("image");
        await RefusedAsync(WithUnits(unit), HttpStatusCode.BadRequest, "controlnets[0].image");
        await RefusedAsync(WithUnits(Unit(), Unit(), Unit(), Unit(), Unit()), HttpStatusCode.BadRequest, "controlnets");
    }

    private static JsonObject WithAdapters(params JsonObject[] adapters)
    {
        var body = ValidRequest();
        body["adapters"] = new JsonArray(adapters);
        return body;
    }

    [Fact]
    public async Task An_adapter_is_accepted_with_its_defaults_and_its_image_stored()
    {
        var adapter = Unit("t2i_adapter_full");
        adapter["preprocessor"] = "color";
        var response = await PostGenerationAsync(WithAdapters(adapter, Unit("t2i_adapter_light")));

        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var stored = (await ReadJsonAsync(response)).GetProperty("request").GetProperty("adapters");
        Assert.Equal(("color", 1.0, 1.0), (stored[0].GetProperty("preprocessor").GetString(), stored[0].GetProperty("scale").GetDouble(),
            stored[0].GetProperty("factor").GetDouble()));
        Assert.True(Factory.Services.GetRequiredService<IBlobStore>().Exists(stored[1].GetProperty("image").GetProperty("blob").GetString()!));
    }

    [Fact]
    public async Task An_adapter_for_sd15_on_an_sdxl_model_is_refused_with_422_naming_it()
    {
        var body = WithAdapters(Unit("t2i_adapter_full"));
        body["model"] = "sdxl";
        var message = await RefusedAsync(body, HttpStatusCode.UnprocessableEntity, "adapters[0].model");
        Assert.Contains("sdxl", message[0].GetString());
        await RefusedAsync(WithAdapters(Unit("controlnet_sd15")), HttpStatusCode.UnprocessableEntity, "adapters[0].model");
    }

    [Theory]
    [InlineData("factor", 0.0, "adapters[0].factor")]
    [InlineData("scale", -1.0, "adapters[0].scale")]
    [InlineData("preprocessor", "pose", "adapters[0].preprocessor")]
    public async Task A_bad_adapter_field_is_refused_with_400_naming_it(string field, object value, string named)
    {
        var adapter = Unit("t2i_adapter_full");
        adapter[field] = JsonValue.Create(value);
        await RefusedAsync(WithAdapters(adapter), HttpStatusCode.BadRequest, named);
    }

    private static JsonObject Grounded(JsonNode phrases, JsonNode boxes, string model = EaselApiFactory.GligenModel)
    {
        var body = ValidRequest();
        body["model"] = model;
        body["grounding"] = new JsonObject { ["phrases"] = phrases, ["boxes"] = boxes };
        return body;
    }

    private static JsonArray Box(params double[] corners) => new(corners.Select(c => (JsonNode)JsonValue.Create(c)).ToArray());

    [Fact]
    public async Task Grounding_on_a_gligen_model_is_accepted_with_beta_defaulting_to_0_3()
    {
        var response = await PostGenerationAsync(Grounded(new JsonArray("a red circle", "a blue square"), new JsonArray(Box(0, 0, 0.5, 0.5), Box(0.5, 0.5, 1, 1))));

        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var grounding = (await ReadJsonAsync(response)).GetProperty("request").GetProperty("grounding");
        Assert.Equal(0.3, grounding.GetProperty("beta").GetDouble());
        Assert.Equal("a blue square", grounding.GetProperty("phrases")[1].GetString());
    }

    [Fact]
    public async Task Grounding_on_a_model_without_gligen_layers_is_refused_with_422()
    {
        await RefusedAsync(Grounded(new JsonArray("a red circle"), new JsonArray(Box(0, 0, 0.5, 0.5)), model: "sd15"), HttpStatusCode.UnprocessableEntity, "grounding");
    }

    [Theory]
    [InlineData("[0.5, 0, 0.4, 1]", "grounding.boxes[0]")]
    [InlineData("[0, 0, 1.2, 1]", "grounding.boxes[0]")]
    [InlineData("[0, 0, 1]", "grounding.boxes[0]")]
    public async Task A_bad_box_is_refused_with_400_naming_it(string box, string field) =>
        await RefusedAsync(Grounded(new JsonArray("a red circle"), new JsonArray(JsonNode.Parse(box))), HttpStatusCode.BadRequest, field);

    [Fact]
    public async Task Phrase_and_box_counts_that_differ_and_more_than_30_entities_are_refused()
    {
        await RefusedAsync(Grounded(new JsonArray("a red circle", "a blue square"), new JsonArray(Box(0, 0, 0.5, 0.5))), HttpStatusCode.BadRequest, "grounding.boxes");
        var phrases = new JsonArray(Enumerable.Range(0, 31).Select(i => (JsonNode)JsonValue.Create($"circle {i}")).ToArray());
        var boxes = new JsonArray(Enumerable.Range(0, 31).Select(_ => (JsonNode)Box(0, 0, 0.5, 0.5)).ToArray());
        await RefusedAsync(Grounded(phrases, boxes), HttpStatusCode.BadRequest, "grounding.phrases");
    }

    [Fact]
    public async Task Models_lists_each_controlnet_with_its_kind_and_the_pipelines_it_fits()
    {
        var models = (await ReadJsonAsync(await Client.GetAsync("/v1/models"))).GetProperty("data").EnumerateArray()
            .ToDictionary(m => m.GetProperty("name").GetString()!);

        Assert.Equal("pipeline", models["sd15"].GetProperty("kind").GetString());
        Assert.Equal(JsonValueKind.Null, models["sd15"].GetProperty("fits").ValueKind);
        Assert.Equal("controlnet", models["controlnet_sd15"].GetProperty("kind").GetString());
        Assert.Equal("sd15", models["controlnet_sd15"].GetProperty("family").GetString());
        var fits = models["controlnet_sd15"].GetProperty("fits").EnumerateArray().Select(f => f.GetString()).ToList();
        Assert.Contains("sd15", fits);
        Assert.DoesNotContain("sdxl", fits);
        Assert.Contains("sdxl", models["controlnet_sdxl"].GetProperty("fits").EnumerateArray().Select(f => f.GetString()));
        Assert.False(models["controlnet_sd15"].GetProperty("default").GetBoolean());
        Assert.Equal("t2i_adapter", models["t2i_adapter_full"].GetProperty("kind").GetString());
        Assert.Contains("sd15", models["t2i_adapter_full"].GetProperty("fits").EnumerateArray().Select(f => f.GetString()));
        Assert.DoesNotContain("sdxl", models["t2i_adapter_full"].GetProperty("fits").EnumerateArray().Select(f => f.GetString()));
    }
}

public sealed class ControlNetRequestTestsOnSqlite(SqliteApiFactory factory) : ControlNetRequestTests<SqliteApiFactory>(factory);

public sealed class ControlNetRequestTestsOnPostgres(PostgresApiFactory factory) : ControlNetRequestTests<PostgresApiFactory>(factory);
