using System.Text.Json.Serialization;

namespace Easel.Api.Apis;

public sealed record ModelResponse(
    string Name,
    string Path,
    string Family,
    bool Inpainting,
    [property: JsonPropertyName("default")] bool Default,
    string? Problem);

public sealed record SchedulerResponse(
    string Name,
    string DisplayName,
    IReadOnlyList<string> Aliases,
    string DiffusersClass,
    [property: JsonPropertyName("default")] bool Default);
