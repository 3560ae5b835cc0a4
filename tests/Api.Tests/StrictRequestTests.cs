using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Easel.Testing;

namespace Easel.Api.Tests;

/// <summary>
/// POST /v1/generations refuses what it does not understand, as Stripe and OpenAI do: unknown and repeated fields,
/// values of the wrong type and malformed bodies of either encoding are 400/413/415 problems whose <c>errors</c> name
/// the field (or <c>body</c> / <c>Content-Type</c>), and nothing is stored.
/// </summary>
public abstract class StrictRequestTests<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : EaselApiFactory
{
    private Task<HttpResponseMessage> PostRawAsync(byte[] body, string? contentType)
    {
        var content = new ByteArrayContent(body);
        if (contentType is not null)
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        return Client.PostAsync("/v1/generations", content);
    }

    private async Task<JsonElement> RefusedAsync(HttpResponseMessage response, int status, string key)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"expected {status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = JsonDocument.Parse(text).RootElement.GetProperty("errors");
        Assert.True(errors.TryGetProperty(key, out var messages), $"errors {errors} do not name '{key}'");
        Assert.NotEmpty(messages.EnumerateArray());
        return errors;
    }

    private static string Message(JsonElement errors, string key) => errors.GetProperty(key)[0].GetString()!;

    [Fact]
    public async Task Misspelt_field_is_refused_naming_it_and_suggesting_the_known_name()
    {
        var jobsBefore = await Factory.CountJobsAsync();
        var body = ValidRequest();
        body.Remove("guidance_scale");
        body["guidence_scale"] = 7.5;

        var errors = await RefusedAsync(await PostGenerationAsync(body), 400, "guidence_scale");

        Assert.Contains("did you mean 'guidance_scale'?", Message(errors, "guidence_scale"));
        Assert.Single(errors.EnumerateObject());
        Assert.Equal(jobsBefore, await Factory.CountJobsAsync());
    }

    [Theory]
    [InlineData("guidanceScale", "guidance_scale")]
    [InlineData("Negative-Prompt", "negative_prompt")]
    [InlineData("stpes", "steps")]
    [InlineData("widht", "width")]
    public async Task Other_spellings_of_a_field_get_its_snake_case_name_suggested(string sent, string known)
    {
        var body = ValidRequest();
        body[sent] = 1;

        var errors = await RefusedAsync(await PostGenerationAsync(body), 400, sent);

        Assert.Contains($"did you mean '{known}'?", Message(errors, sent));
    }

    [Fact]
    public async Task A_method_not_built_yet_is_refused_like_a_typo_with_the_known_fields_listed()
    {
        var body = ValidRequest();
        body["sliders"] = new JsonArray(new JsonObject { ["artifact"] = "age", ["scale"] = 2 });
        body["n"] = 2;

        var errors = await RefusedAsync(await PostGenerationAsync(body), 400, "sliders");

        Assert.Contains("Known fields: prompt, negative_prompt", Message(errors, "sliders"));
        Assert.True(errors.TryGetProperty("n", out _), errors.ToString());
    }

    [Fact]
    public async Task Multipart_field_names_are_checked_against_the_same_request()
    {
        var jobsBefore = await Factory.CountJobsAsync();
        var fields = ValidRequest();
        fields["guidence_scale"] = "7";

        var errors = await RefusedAsync(await Client.PostAsync("/v1/generations", TestImages.Multipart(fields)), 400, "guidence_scale");

        Assert.Contains("did you mean 'guidance_scale'?", Message(errors, "guidence_scale"));
        Assert.Equal(jobsBefore, await Factory.CountJobsAsync());
    }

    [Fact]
    public async Task Multipart_with_every_job_field_is_accepted_with_the_same_meaning_as_json()
    {
        var fields = ValidRequest();
        fields["priority"] = "7";
        fields["cancel_after"] = "5m";
        var content = TestImages.Multipart(fields);

        var response = await Client.PostAsync("/v1/generations", content);

        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var job = await ReadJsonAsync(response);
        Assert.Equal(7, job.GetProperty("priority").GetInt32());
        Assert.Equal(JsonValueKind.String, job.GetProperty("cancel_after").ValueKind);
        Assert.Equal(5, job.GetProperty("request").GetProperty("steps").GetInt32());
    }

    public static TheoryData<string, string, string, int, string> MalformedBodies => new()
    {
        // case, content type, body (\xFF = an invalid UTF-8 byte), status, errors key
        { "empty body", "application/json", "", 400, "body" },
        { "blank body", "application/json", " \r\n", 400, "body" },
        { "not valid utf-8", "application/json", "{\"prompt\":\"a red \xFF circle\"}", 400, "body" },
        { "truncated", "application/json", "{\"prompt\":\"a red ci", 400, "body" },
        { "an array", "application/json", "[{\"prompt\":\"a red circle\"}]", 400, "body" },
        { "null", "application/json", "null", 400, "body" },
        { "too deep", "application/json", "{\"prompt\":\"a\",\"negative_prompt\":" + new string('[', 40) + new string(']', 40) + "}", 400, "body" },
        { "repeated field", "application/json", "{\"prompt\":\"a red circle\",\"prompt\":\"a blue square\"}", 400, "prompt" },
        { "number where a string belongs", "application/json", "{\"prompt\":42}", 400, "prompt" },
        { "string where a number belongs", "application/json", "{\"prompt\":\"a\",\"steps\":\"many\"}", 400, "steps" },
        { "number too large for its field", "application/json", "{\"prompt\":\"a\",\"steps\":99999999999999999999}", 400, "steps" },
        { "list given as a string", "application/json", "{\"prompt\":\"a\",\"webhook_events\":\"completed\"}", 400, "webhook_events" },
        { "utf-16 charset", "application/json; charset=utf-16", "{\"prompt\":\"a\"}", 415, "Content-Type" },
        { "no content type", "", "{\"prompt\":\"a\"}", 415, "Content-Type" },
        { "text/plain", "text/plain", "prompt=a", 415, "Content-Type" },
        { "octet-stream", "application/octet-stream", "{\"prompt\":\"a\"}", 415, "Content-Type" },
        { "url-encoded form", "application/x-www-form-urlencoded", "prompt=a", 415, "Content-Type" },
        { "multipart without a boundary", "multipart/form-data", "--x\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\na\r\n--x--\r\n", 400, "Content-Type" },
        { "multipart truncated", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\na red", 400, "body" },
        { "multipart repeated field", "multipart/form-data; boundary=x",
            "--x\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\na\r\n--x\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nb\r\n--x--\r\n", 400, "prompt" },
        { "multipart part without a name", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data\r\n\r\na\r\n--x--\r\n", 400, "body" },
    };

    [Theory]
    [MemberData(nameof(MalformedBodies))]
    public async Task Malformed_body_is_a_problem_with_errors_and_nothing_is_stored(string @case, string contentType, string body, int status, string key)
    {
        var jobsBefore = await Factory.CountJobsAsync();
        var bytes = Encoding.UTF8.GetBytes(body.Replace("\xFF", "\u0001", StringComparison.Ordinal));
        var invalidAt = body.IndexOf('\xFF', StringComparison.Ordinal);
        if (invalidAt >= 0)
            bytes[Encoding.UTF8.GetByteCount(body[..invalidAt])] = 0xFF;

        var response = await PostRawAsync(bytes, contentType.Length == 0 ? null : contentType);

        Assert.True((int)response.StatusCode == status, $"{@case}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        await RefusedAsync(response, status, key);
        Assert.Equal(jobsBefore, await Factory.CountJobsAsync());
    }

    /// <summary>PostgreSQL cannot store U+0000 in text or jsonb, nor can Npgsql encode a lone surrogate: both were 500s there.</summary>
    [Theory]
    [InlineData("prompt", "\"a red\\u0000 circle\"", "prompt")]
    [InlineData("negative_prompt", "\"blurry\\u0000\"", "negative_prompt")]
    [InlineData("prompt", "\"a red \\ud800 circle\"", "prompt")]
    [InlineData("webhook_events", "[\"completed\\u0000\"]", "webhook_events[0]")]
    public async Task Text_no_store_can_hold_is_refused_naming_the_field(string field, string rawJsonValue, string key)
    {
        var jobsBefore = await Factory.CountJobsAsync();
        var request = ValidRequest();
        request.Remove(field);
        var json = request.ToJsonString();

        var response = await PostRawAsync(Encoding.UTF8.GetBytes(json.Insert(json.Length - 1, $",\"{field}\":{rawJsonValue}")), "application/json");

        var errors = await RefusedAsync(response, 400, key);
        Assert.Contains("U+0000", Message(errors, key));
        Assert.Equal(jobsBefore, await Factory.CountJobsAsync());
    }

    [Fact]
    public async Task Two_image_parts_are_refused_naming_the_field()
    {
        var content = TestImages.Multipart(ValidRequest(), TestImages.Png());
        var second = new ByteArrayContent(TestImages.Png());
        second.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        content.Add(second, "image", "second.png");

        await RefusedAsync(await Client.PostAsync("/v1/generations", content), 400, "image");
    }

    [Fact]
    public async Task Png_whose_compressed_text_chunk_inflates_to_megabytes_is_read_without_inflating_it()
    {
        var body = ValidRequest();
        body.Remove("width");
        body.Remove("height");
        body["image"] = Convert.ToBase64String(Easel.Tools.Fuzzing.RequestMutator.PngWithCompressedText(TestImages.Png(), inflatedBytes: 128 << 20));
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var response = await PostGenerationAsync(body);

        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}: the text chunk was inflated");
    }

    [Fact]
    public async Task Accepted_job_answers_with_its_queue_position_as_a_get_right_after_does()
    {
        var response = await PostGenerationAsync(ValidRequest());

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = await ReadJsonAsync(response);
        var position = accepted.GetProperty("queue_position");
        Assert.Equal(JsonValueKind.Number, position.ValueKind);
        var fetched = await ReadJsonAsync(await Client.GetAsync(response.Headers.Location));
        Assert.Equal(fetched.GetProperty("queue_position").GetInt32(), position.GetInt32());
    }

    [Fact]
    public async Task Loopback_webhook_is_refused_naming_the_setting_that_allows_it()
    {
        var body = ValidRequest();
        body["webhook"] = "http://127.0.0.1:9000/hook";

        var errors = await RefusedAsync(await PostGenerationAsync(body), 400, "webhook");

        Assert.Contains("Easel:Webhooks:AllowPrivateTargets", Message(errors, "webhook"));
    }
}

public sealed class StrictRequestTestsOnSqlite(SqliteApiFactory factory) : StrictRequestTests<SqliteApiFactory>(factory);

public sealed class StrictRequestTestsOnPostgres(PostgresApiFactory factory) : StrictRequestTests<PostgresApiFactory>(factory);
