using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Easel.Testing;

/// <summary>Shared helpers; every test class derives once per database provider.</summary>
public abstract class ApiTestBase<TFactory>(TFactory factory) : IClassFixture<TFactory>
    where TFactory : EaselApiFactory
{
    protected TFactory Factory { get; } = factory;

    protected HttpClient Client { get; } = factory.CreateClient();

    /// <summary>A request that passes validation on the fixture model; tests change one field.</summary>
    protected static JsonObject ValidRequest() => new()
    {
        ["prompt"] = "a red circle on a blue background",
        ["negative_prompt"] = "blurry",
        ["model"] = "sd15",
        ["width"] = 64,
        ["height"] = 64,
        ["steps"] = 5,
        ["guidance_scale"] = 7.5,
        ["seed"] = 42,
        ["scheduler"] = "ddim",
        ["num_images"] = 1,
    };

    protected Task<HttpResponseMessage> PostGenerationAsync(JsonNode body) =>
        Client.PostAsync("/v1/generations", new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));

    protected static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>());
}
