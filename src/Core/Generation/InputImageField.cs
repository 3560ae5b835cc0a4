using System.Text.Json;
using System.Text.Json.Serialization;

namespace Easel.Core.Generation;

/// <summary>
/// The <c>image</c> or <c>mask</c> of a generation request: base64 PNG/JPEG (a <c>data:image/...;base64,</c> prefix is
/// allowed), or the <c>{"blob", "width", "height"}</c> reference a job's <c>request</c> shows for an input it stored, so
/// that the shown request can be submitted again as-is. A reference is honoured only for an input of the caller's own
/// jobs that retention has not deleted yet.
/// </summary>
[JsonConverter(typeof(InputImageFieldJsonConverter))]
public sealed record InputImageField(string? Base64, StoredInputImage? Stored)
{
    public static implicit operator InputImageField?(string? base64) => base64 is null ? null : new(base64, null);
}

/// <summary>Reads a JSON string as <see cref="InputImageField.Base64"/> and an object as <see cref="InputImageField.Stored"/>.</summary>
public sealed class InputImageFieldJsonConverter : JsonConverter<InputImageField>
{
    public override InputImageField? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.String => new InputImageField(reader.GetString(), null),
        JsonTokenType.StartObject => new InputImageField(null, JsonSerializer.Deserialize<StoredInputImage>(ref reader, options)
            is { Blob: not null } stored ? stored : throw new JsonException("A stored image reference needs its blob.")),
        _ => throw new JsonException("An image is a base64 string or a stored image reference {\"blob\": …}."),
    };

    public override void Write(Utf8JsonWriter writer, InputImageField value, JsonSerializerOptions options)
    {
        if (value.Stored is { } stored)
            JsonSerializer.Serialize(writer, stored, options);
        else
            writer.WriteStringValue(value.Base64);
    }
}
