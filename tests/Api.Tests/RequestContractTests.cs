using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Easel.Api.Extensions;

namespace Easel.Api.Tests;

/// <summary>The known fields come from the serializer's contract of the request record, nested objects included.</summary>
public sealed class RequestContractTests
{
    /// <summary>A request with the shapes later requests will have: a list of objects and a nested object.</summary>
    public sealed record LoraReference(string Name, double? Weight);

    public sealed record ControlSettings(double? Scale, IReadOnlyList<LoraReference>? Extra);

    public sealed record SampleRequest(string? Prompt, IReadOnlyList<LoraReference>? Loras, ControlSettings? Control, IReadOnlyDictionary<string, LoraReference>? ByName);

    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
    };

    private static Dictionary<string, string[]> Unexpected(string json)
    {
        var errors = new Dictionary<string, string[]>();
        using var document = JsonDocument.Parse(json);
        RequestContract.FindUnexpectedFields(document.RootElement, Options.GetTypeInfo(typeof(SampleRequest)), errors);
        return errors;
    }

    [Fact]
    public void Fields_of_a_record_are_known_by_their_json_names_without_a_list_kept_by_hand()
    {
        Assert.Empty(Unexpected("""{"prompt":"a","loras":[{"name":"x","weight":0.5}],"control":{"scale":1,"extra":[{"name":"y"}]},"by_name":{"k":{"name":"z"}}}"""));
    }

    [Fact]
    public void Unknown_fields_inside_arrays_and_nested_objects_are_named_by_their_path()
    {
        var errors = Unexpected("""{"prompt":"a","loras":[{"name":"x"},{"name":"y","wieght":1}],"control":{"scael":1,"extra":[{"nmae":"z"}]},"by_name":{"k":{"w":1}}}""");

        Assert.Equal(["by_name.k.w", "control.extra[0].nmae", "control.scael", "loras[1].wieght"], errors.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("in loras[1]; did you mean 'weight'?", errors["loras[1].wieght"][0]);
        Assert.Contains("did you mean 'scale'?", errors["control.scael"][0]);
    }

    [Theory]
    [InlineData("""{"prompt":"a red \u0000 circle"}""", false)]
    [InlineData("""{"prompt":"a red \ud800 circle"}""", false)]
    [InlineData("""{"prompt":"a red \udc00 circle"}""", false)]
    [InlineData("""{"loras":[{"name":"x\u0000"}]}""", false)]
    [InlineData("""{"prompt":"a red \ud83d\ude00 circle, caf\u00e9"}""", true)]
    public void Text_that_no_store_can_hold_is_named_and_other_unicode_passes(string json, bool passes)
    {
        Assert.Equal(passes, Unexpected(json).Count == 0);
    }

    [Fact]
    public void A_field_repeated_in_one_object_is_named()
    {
        var errors = Unexpected("""{"prompt":"a","loras":[{"name":"x","name":"y"}]}""");

        Assert.Contains("more than once", Assert.Single(errors, e => e.Key == "loras[0].name").Value[0]);
    }

    [Theory]
    [InlineData("guidence_scale", "guidance_scale")]
    [InlineData("GuidanceScale", "guidance_scale")]
    [InlineData("num-images", "num_images")]
    [InlineData("attend_and_excite", null)]
    [InlineData("x", null)]
    public void Closest_name_is_a_near_spelling_or_none(string sent, string? expected)
    {
        Assert.Equal(expected, RequestContract.ClosestName(sent, ["prompt", "guidance_scale", "num_images", "steps"]));
    }

    [Fact]
    public void Reports_stop_at_the_limit_however_many_junk_fields_are_sent()
    {
        var json = "{" + string.Join(",", Enumerable.Range(0, 10_000).Select(i => $"\"junk{i}\":1")) + "}";

        Assert.Equal(RequestContract.MaxReportedFields, Unexpected(json).Count);
    }
}
