using System.Text.Json;
using System.Text.Json.Serialization;

namespace Easel.Inference.Loading;

/// <summary>
/// Reads a component's config.json into its config record. Property names are the snake_case keys
/// of diffusers/transformers configs; keys the record does not model are ignored, so configs
/// written by newer library versions still load.
/// </summary>
public static class ConfigJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.AllowNamedFloatingPointLiterals,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        Converters = { new IntOrListConverter(), new NullableFalseBooleanConverter() },
    };

    /// <summary>Parses the config file at <paramref name="path"/>.</summary>
    public static T Read<T>(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"Config file '{path}' does not exist.", path);
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(path), Options)
                ?? throw new InvalidDataException($"Config file '{path}' is empty.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Config file '{path}' is not a valid {typeof(T).Name}: {e.Message}", e);
        }
    }

    /// <summary>Parses a config from JSON text (for configs embedded in fixtures or requests).</summary>
    public static T Parse<T>(string json) =>
        JsonSerializer.Deserialize<T>(json, Options) ?? throw new InvalidDataException($"Empty {typeof(T).Name} config.");
}

/// <summary>
/// A config value that diffusers allows to be either one integer for every block or one per block
/// (attention_head_dim, transformer_layers_per_block, num_attention_heads).
/// </summary>
[JsonConverter(typeof(IntOrListConverter))]
public sealed record IntOrList(int? Single, IReadOnlyList<int>? PerBlock)
{
    /// <summary>The value for block <paramref name="index"/> of <paramref name="blockCount"/>.</summary>
    public int For(int index, int blockCount)
    {
        if (PerBlock is null)
            return Single ?? throw new InvalidDataException("Config value is null.");
        if (PerBlock.Count != blockCount)
            throw new InvalidDataException($"Config lists {PerBlock.Count} values but the model has {blockCount} blocks.");
        return PerBlock[index];
    }

    public static implicit operator IntOrList(int value) => new(value, null);
}

internal sealed class IntOrListConverter : JsonConverter<IntOrList>
{
    public override IntOrList? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.Number:
                return new IntOrList(reader.GetInt32(), null);
            case JsonTokenType.StartArray:
                var values = new List<int>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    values.Add(reader.GetInt32());
                return new IntOrList(null, values);
            default:
                throw new JsonException($"Expected an integer or a list of integers, found {reader.TokenType}.");
        }
    }

    public override void Write(Utf8JsonWriter writer, IntOrList value, JsonSerializerOptions options)
    {
        if (value.PerBlock is null)
            writer.WriteNumberValue(value.Single ?? 0);
        else
            JsonSerializer.Serialize(writer, value.PerBlock, options);
    }
}

/// <summary>
/// Reads JSON null as false for boolean config keys: diffusers writes None for some flags (SDXL's
/// "upcast_attention": null) and treats it as falsy.
/// </summary>
public sealed class NullableFalseBooleanConverter : JsonConverter<bool>
{
    public override bool HandleNull => true;

    public override bool Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.Null => false,
        JsonTokenType.True => true,
        JsonTokenType.False => false,
        _ => throw new JsonException($"Expected a boolean or null, got {reader.TokenType}."),
    };

    public override void Write(Utf8JsonWriter writer, bool value, JsonSerializerOptions options) => writer.WriteBooleanValue(value);
}
