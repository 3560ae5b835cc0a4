using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Easel.Testing;

namespace Easel.Api.Tests;

/// <summary>
/// The Swagger document works as a client's guide: the example of every request body is accepted as it stands, in
/// JSON and as the multipart form; the multipart form has every field of the JSON body; every /v1 operation names the
/// problems it can answer; streams, images and the headers they use are described. Run with authentication on, so
/// that the admin operations' examples are tried too.
/// </summary>
public abstract class OpenApiDocumentTests<TFactory>(TFactory factory) : ApiTestBase<TFactory>(factory)
    where TFactory : AuthApiFactory
{
    private HttpClient Admin
    {
        get
        {
            var client = Factory.CreateClient();
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AuthApiFactory.AdminKey);
            return client;
        }
    }

    private async Task<JsonElement> DocumentAsync() => await ReadJsonAsync(await Client.GetAsync("/swagger/v1/swagger.json"));

    private static IEnumerable<(string Path, string Method, JsonElement Operation)> Operations(JsonElement document) =>
        document.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(op => (path.Name, op.Name, op.Value)));

    [Fact]
    public async Task The_json_example_of_every_request_body_is_accepted()
    {
        var tried = 0;
        foreach (var (path, method, operation) in Operations(await DocumentAsync()))
        {
            // A file upload (multipart only, POST /v1/artifacts) has no JSON body to try; its form is tested by its own API tests.
            if (!operation.TryGetProperty("requestBody", out var body) || !body.GetProperty("content").TryGetProperty("application/json", out var json))
                continue;
            Assert.True(json.TryGetProperty("example", out var example), $"{method} {path} has no example");

            var response = await Admin.SendAsync(new HttpRequestMessage(new HttpMethod(method), path)
            {
                Content = new StringContent(example.GetRawText(), Encoding.UTF8, "application/json"),
            });

            // Success as the operation documents it: 202 for jobs, 201 for created resources, 200 for POST /v1/preprocess's map. An
            // operation on a resource named in the path (an edit session) gets the literal template, so a body it accepts meets the 404
            // of a resource that does not exist; one it refused would be a 400 first.
            var documented = operation.GetProperty("responses").EnumerateObject().Select(r => r.Name).ToHashSet();
            var accepted = (int)response.StatusCode is >= 200 and < 300 || path.Contains('{') && response.StatusCode == HttpStatusCode.NotFound;
            Assert.True(accepted && documented.Contains(((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture)),
                $"{method} {path} with {example}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            tried++;
        }
        Assert.True(tried >= 3, "POST /v1/generations, POST /v1/preprocess and POST /v1/admin/keys at least");
    }

    [Fact]
    public async Task Every_operation_with_a_body_refuses_an_unknown_field_naming_it()
    {
        foreach (var (path, method, operation) in Operations(await DocumentAsync()))
        {
            if (!operation.TryGetProperty("requestBody", out var body))
                continue;
            HttpContent content;
            if (body.GetProperty("content").TryGetProperty("application/json", out var json))
            {
                var example = System.Text.Json.Nodes.JsonNode.Parse(json.GetProperty("example").GetRawText())!.AsObject();
                example["sliders"] = new System.Text.Json.Nodes.JsonArray(new System.Text.Json.Nodes.JsonObject { ["artifact"] = "age" });
                content = new StringContent(example.ToJsonString(), Encoding.UTF8, "application/json");
            }
            else
            {
                content = new MultipartFormDataContent { { new StringContent("[{\"artifact\":\"age\"}]"), "sliders" } };
            }

            var response = await Admin.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = content });

            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{method} {path}: {(int)response.StatusCode} {text}");
            Assert.True(JsonDocument.Parse(text).RootElement.GetProperty("errors").TryGetProperty("sliders", out _), $"{method} {path}: {text}");
        }
    }

    [Fact]
    public async Task The_generation_example_is_a_prompt_alone_so_the_defaults_apply()
    {
        var content = (await DocumentAsync()).GetProperty("paths").GetProperty("/v1/generations").GetProperty("post")
            .GetProperty("requestBody").GetProperty("content");

        var example = Assert.Single(content.GetProperty("application/json").GetProperty("example").EnumerateObject());
        Assert.Equal(("prompt", "a red circle"), (example.Name, example.Value.GetString()));
        var form = new MultipartFormDataContent();
        foreach (var field in content.GetProperty("multipart/form-data").GetProperty("schema").GetProperty("properties").EnumerateObject())
            if (field.Value.TryGetProperty("example", out var value))
                form.Add(new StringContent(value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText()), field.Name);
        var response = await Admin.PostAsync("/v1/generations", form);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task The_multipart_form_has_every_field_of_the_json_body_with_the_images_as_files()
    {
        var document = await DocumentAsync();
        var json = document.GetProperty("components").GetProperty("schemas").GetProperty("GenerationRequest").GetProperty("properties");
        var form = document.GetProperty("paths").GetProperty("/v1/generations").GetProperty("post").GetProperty("requestBody")
            .GetProperty("content").GetProperty("multipart/form-data").GetProperty("schema").GetProperty("properties");

        var jsonNames = json.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).ToList();
        // Beside the JSON fields: the file part of entry 0 of each list of units (entry i's part is named alike).
        Assert.Equal(jsonNames.Concat(["adapters[0].image", "controlnets[0].image"]).Order(StringComparer.Ordinal),
            form.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).ToList());
        Assert.Superset(new HashSet<string> { "webhook", "webhook_events", "priority", "cancel_after", "controlnets", "adapters" }, jsonNames.ToHashSet());
        foreach (var file in new[] { "image", "mask", "controlnets[0].image", "adapters[0].image" })
            Assert.Equal("binary", form.GetProperty(file).GetProperty("format").GetString());
    }

    [Fact]
    public async Task Priority_and_cancel_after_are_documented_with_their_range_and_formats()
    {
        var fields = (await DocumentAsync()).GetProperty("components").GetProperty("schemas").GetProperty("GenerationRequest").GetProperty("properties");

        Assert.Equal(-100, fields.GetProperty("priority").GetProperty("minimum").GetInt32());
        Assert.Equal(100, fields.GetProperty("priority").GetProperty("maximum").GetInt32());
        var cancelAfter = fields.GetProperty("cancel_after");
        Assert.Equal("duration-or-date-time", cancelAfter.GetProperty("format").GetString());
        foreach (var form in new[] { "\"90s\"", "\"5m\"", "\"1h30m\"", "seconds", "RFC 3339" })
            Assert.Contains(form, cancelAfter.GetProperty("description").GetString());
        Assert.Equal("uri", fields.GetProperty("webhook").GetProperty("format").GetString());
    }

    [Fact]
    public async Task Every_v1_operation_names_its_auth_problems_and_every_body_its_refusals()
    {
        foreach (var (path, method, operation) in Operations(await DocumentAsync()).Where(o => o.Path.StartsWith("/v1/", StringComparison.Ordinal)))
        {
            var statuses = operation.GetProperty("responses").EnumerateObject().Select(r => r.Name).ToHashSet();
            Assert.True(statuses.IsSupersetOf(["401", "403", "429"]), $"{method} {path}: {string.Join(", ", statuses)}");
            if (operation.TryGetProperty("requestBody", out _))
            {
                Assert.True(statuses.IsSupersetOf(["400", "413", "415"]), $"{method} {path}: {string.Join(", ", statuses)}");
                Assert.True(operation.GetProperty("responses").GetProperty("415").GetProperty("content").TryGetProperty("application/problem+json", out _));
            }
        }
    }

    [Fact]
    public async Task Event_stream_image_and_their_headers_are_described()
    {
        var paths = (await DocumentAsync()).GetProperty("paths");
        var events = paths.GetProperty("/v1/jobs/{id}/events").GetProperty("get");
        var image = paths.GetProperty("/v1/images/{id}").GetProperty("get");

        Assert.True(events.GetProperty("responses").GetProperty("200").GetProperty("content").TryGetProperty("text/event-stream", out _));
        Assert.Contains(events.GetProperty("parameters").EnumerateArray(), p => p.GetProperty("name").GetString() == "Last-Event-ID" && p.GetProperty("in").GetString() == "header");
        Assert.Equal("binary", image.GetProperty("responses").GetProperty("200").GetProperty("content").GetProperty("image/png").GetProperty("schema").GetProperty("format").GetString());
    }
}

public sealed class OpenApiDocumentTestsOnSqlite(SqliteAuthApiFactory factory) : OpenApiDocumentTests<SqliteAuthApiFactory>(factory);

public sealed class OpenApiDocumentTestsOnPostgres(PostgresAuthApiFactory factory) : OpenApiDocumentTests<PostgresAuthApiFactory>(factory);
