using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Easel.Testing;

namespace Easel.Api.Tests;

/// <summary>attend_and_excite and structured_guidance on POST /v1/generations: stored with their defaults decided, bad ones refused naming the field.</summary>
public abstract class AttentionGuidanceRequestTests<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : EaselApiFactory
{
    private static JsonObject Guided(string field, JsonNode value, int steps = 5, string prompt = "a red circle and a blue square")
    {
        var body = ValidRequest();
        body["prompt"] = prompt;
        body["steps"] = steps;
        body[field] = value;
        return body;
    }

    private async Task<JsonElement> AcceptedAsync(JsonObject body)
    {
        var response = await PostGenerationAsync(body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, text);
        return JsonDocument.Parse(text).RootElement.GetProperty("request");
    }

    private async Task RefusedAsync(JsonObject body, HttpStatusCode status, string field)
    {
        var before = await Factory.CountJobsAsync();
        var response = await PostGenerationAsync(body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = JsonDocument.Parse(text).RootElement.GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out _), $"errors {errors} do not name '{field}'");
        Assert.Equal(before, await Factory.CountJobsAsync());
    }

    [Fact]
    public async Task Attend_and_excite_defaults_are_diffusers_50_step_values_scaled_to_the_steps()
    {
        var request = await AcceptedAsync(Guided("attend_and_excite", new JsonObject { ["tokens"] = new JsonArray("circle", "square") }, steps: 20));

        var excite = request.GetProperty("attend_and_excite");
        Assert.Equal(["circle", "square"], excite.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(10, excite.GetProperty("max_iter_to_alter").GetInt32());
        var thresholds = excite.GetProperty("thresholds").EnumerateObject().ToDictionary(t => t.Name, t => t.Value.GetDouble());
        Assert.Equal(new Dictionary<string, double> { ["0"] = 0.05, ["4"] = 0.5, ["8"] = 0.8 }, thresholds);
        Assert.Equal(20, excite.GetProperty("scale_factor").GetDouble());
        Assert.True(excite.GetProperty("probe_every_step").GetBoolean());
    }

    [Fact]
    public async Task The_shown_request_with_attend_and_excite_submits_again_as_it_stands()
    {
        var first = await AcceptedAsync(Guided("attend_and_excite", new JsonObject { ["indices"] = new JsonArray(3, 7), ["attn_res"] = new JsonArray(8, 8) }));

        var again = await AcceptedAsync(JsonNode.Parse(first.GetRawText())!.AsObject());
        Assert.Equal(first.GetProperty("attend_and_excite").GetRawText(), again.GetProperty("attend_and_excite").GetRawText());
    }

    [Theory]
    [InlineData("{\"tokens\": [\"frog\"]}", "attend_and_excite.tokens[0]")]
    [InlineData("{\"tokens\": [\"red circle\"]}", "attend_and_excite.tokens[0]")]
    [InlineData("{}", "attend_and_excite.tokens")]
    [InlineData("{\"tokens\": [\"circle\"], \"indices\": [3]}", "attend_and_excite.indices")]
    [InlineData("{\"indices\": [0]}", "attend_and_excite.indices[0]")]
    [InlineData("{\"tokens\": [\"circle\"], \"max_iter_to_alter\": 9}", "attend_and_excite.max_iter_to_alter")]
    [InlineData("{\"tokens\": [\"circle\"], \"thresholds\": {\"5\": 0.5}}", "attend_and_excite.thresholds.5")]
    [InlineData("{\"tokens\": [\"circle\"], \"thresholds\": {\"0\": 1.5}}", "attend_and_excite.thresholds.0")]
    [InlineData("{\"tokens\": [\"circle\"], \"scale_factor\": -1}", "attend_and_excite.scale_factor")]
    [InlineData("{\"tokens\": [\"circle\"], \"attn_res\": [8]}", "attend_and_excite.attn_res")]
    [InlineData("{\"tokens\": [\"circle\"], \"max_iter\": 3}", "attend_and_excite.max_iter")]
    public async Task A_bad_attend_and_excite_field_is_refused_with_400_naming_it(string value, string field) =>
        await RefusedAsync(Guided("attend_and_excite", JsonNode.Parse(value)!), HttpStatusCode.BadRequest, field);

    [Fact]
    public async Task Attend_and_excite_on_an_inpainting_model_is_refused_with_422()
    {
        var body = Guided("attend_and_excite", new JsonObject { ["tokens"] = new JsonArray("circle") });
        body["model"] = "sd15_inpaint";
        body["image"] = Convert.ToBase64String(TestImages.Png());
        body["mask"] = Convert.ToBase64String(TestImages.Mask());
        await RefusedAsync(body, HttpStatusCode.UnprocessableEntity, "attend_and_excite");
    }

    [Fact]
    public async Task Structured_guidance_true_is_the_chunkers_phrases_on_every_step()
    {
        var guidance = (await AcceptedAsync(Guided("structured_guidance", JsonValue.Create(true)))).GetProperty("structured_guidance");

        Assert.Equal(JsonValueKind.Null, guidance.GetProperty("noun_phrases").ValueKind);
        Assert.Equal(1.0, guidance.GetProperty("steps").GetDouble());
    }

    [Fact]
    public async Task Structured_guidance_false_is_off_and_named_phrases_are_kept()
    {
        var off = await AcceptedAsync(Guided("structured_guidance", JsonValue.Create(false)));
        Assert.True(off.TryGetProperty("structured_guidance", out var none) is false || none.ValueKind == JsonValueKind.Null);

        var named = (await AcceptedAsync(Guided("structured_guidance",
            new JsonObject { ["noun_phrases"] = new JsonArray("a red circle", "a blue square"), ["steps"] = 0.5 }))).GetProperty("structured_guidance");
        Assert.Equal(["a red circle", "a blue square"], named.GetProperty("noun_phrases").EnumerateArray().Select(p => p.GetString()));
        Assert.Equal(0.5, named.GetProperty("steps").GetDouble());
    }

    [Theory]
    [InlineData("{\"noun_phrases\": [\"a green star\"]}", "structured_guidance.noun_phrases[0]")]
    [InlineData("{\"noun_phrases\": [\"\"]}", "structured_guidance.noun_phrases[0]")]
    [InlineData("{\"steps\": 1.5}", "structured_guidance.steps")]
    [InlineData("\"yes\"", "structured_guidance")]
    [InlineData("{\"phrases\": [\"a red circle\"]}", "structured_guidance")]
    public async Task A_bad_structured_guidance_is_refused_with_400_naming_it(string value, string field) =>
        await RefusedAsync(Guided("structured_guidance", JsonNode.Parse(value)!), HttpStatusCode.BadRequest, field);

    [Fact]
    public async Task Both_methods_in_one_multipart_request_are_read_as_in_json()
    {
        using var form = new MultipartFormDataContent
        {
            { new StringContent("a red circle and a blue square"), "prompt" },
            { new StringContent("sd15"), "model" },
            { new StringContent("64"), "width" },
            { new StringContent("64"), "height" },
            { new StringContent("4"), "steps" },
            { new StringContent("{\"tokens\": [\"circle\", \"square\"]}"), "attend_and_excite" },
            { new StringContent("true"), "structured_guidance" },
        };
        var response = await Client.PostAsync("/v1/generations", form);
        var text = await response.Content.ReadAsStringAsync();

        Assert.True(response.StatusCode == HttpStatusCode.Accepted, text);
        var request = JsonDocument.Parse(text).RootElement.GetProperty("request");
        Assert.Equal(2, request.GetProperty("attend_and_excite").GetProperty("tokens").GetArrayLength());
        Assert.Equal(1.0, request.GetProperty("structured_guidance").GetProperty("steps").GetDouble());
    }
}

public sealed class AttentionGuidanceRequestTestsOnSqlite(SqliteApiFactory factory) : AttentionGuidanceRequestTests<SqliteApiFactory>(factory);

public sealed class AttentionGuidanceRequestTestsOnPostgres(PostgresApiFactory factory) : AttentionGuidanceRequestTests<PostgresApiFactory>(factory);
