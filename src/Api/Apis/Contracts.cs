using System.Text.Json.Serialization;

namespace Easel.Api.Apis;

/// <summary>The envelope of every list the API returns: <c>{"data": [...]}</c> (paged lists add <c>next_cursor</c>).</summary>
public sealed record ListResponse<T>(IReadOnlyList<T> Data);

/// <param name="Defaults">What a request for the model gets for each omitted field (the model's recommended values, else the
/// service-wide ones).</param>
/// <param name="Workers">The live workers serving the model; empty = no job for it runs now.</param>
/// <param name="Kind">pipeline (name it as a request's <c>model</c>) or controlnet (name it in <c>controlnets[].model</c>).</param>
/// <param name="Fits">For a control model: the pipelines of the list it can be added to (same family and UNet encoder layout).</param>
public sealed record ModelResponse(
    string Name,
    string Path,
    string Family,
    string Format,
    bool Inpainting,
    [property: JsonPropertyName("default")] bool Default,
    int SampleSize,
    int VaeScaleFactor,
    ModelDefaultsResponse Defaults,
    IReadOnlyList<string> Workers,
    string? Problem,
    string Kind,
    IReadOnlyList<string>? Fits);

public sealed record ModelDefaultsResponse(int Width, int Height, int Steps, double GuidanceScale, string Scheduler);

public sealed record SchedulerResponse(
    string Name,
    string DisplayName,
    IReadOnlyList<string> Aliases,
    string DiffusersClass,
    [property: JsonPropertyName("default")] bool Default);
