using System.Text.Json;
using System.Text.Json.Serialization;

namespace Easel.Core.Generation;

/// <summary>
/// Attend-and-Excite (Chefer et al. 2023): the latents are moved, on the first steps, until every subject token is strongly
/// attended somewhere in the image. Omitted values are diffusers' 50-step defaults scaled to the request's steps.
/// </summary>
/// <param name="Tokens">The subjects as words of the prompt ("cat", "frog"); a word of several tokens counts with all of them.</param>
/// <param name="Indices">Or the token positions themselves (1 = the first token after the start token), as diffusers' token_indices.</param>
/// <param name="MaxIterToAlter">The latents are updated on steps 0 … max_iter_to_alter − 1; default 25 of 50 steps, scaled.</param>
/// <param name="Thresholds">Refinement steps {"step": threshold}: the update repeats there while the loss is above 1 − threshold;
/// default {0: 0.05, 10: 0.5, 20: 0.8} of 50 steps, scaled.</param>
/// <param name="ScaleFactor">The step size α_i = scale_factor · sqrt(linspace(1, 0.5, steps)[i]); default 20.</param>
/// <param name="AttnRes">[height, width] of the cross-attention maps used; default the model's resolution nearest 16×16 (diffusers'
/// for a 64×64 latent; the bundled model's highest, 8×8). A resolution the model lacks fails the job naming the ones it has.</param>
/// <param name="ProbeEveryStep">True (default, diffusers' call pattern): the grad-enabled UNet call runs on every step; false skips it
/// after max_iter_to_alter, where it changes nothing (faster, the same image).</param>
public sealed record AttendAndExciteRequest(
    IReadOnlyList<string>? Tokens = null,
    IReadOnlyList<int>? Indices = null,
    int? MaxIterToAlter = null,
    Dictionary<int, double>? Thresholds = null,
    double? ScaleFactor = null,
    IReadOnlyList<int>? AttnRes = null,
    bool? ProbeEveryStep = null);

/// <summary>Validated Attend-and-Excite with every value decided; the worker finds the token positions of <see cref="Tokens"/>.</summary>
public sealed record AttendAndExciteUse(
    IReadOnlyList<string>? Tokens,
    IReadOnlyList<int>? Indices,
    int MaxIterToAlter,
    IReadOnlyDictionary<int, double> Thresholds,
    double ScaleFactor,
    IReadOnlyList<int>? AttnRes,
    bool ProbeEveryStep);

/// <summary>
/// Structured Diffusion Guidance (Feng et al. 2023): each noun phrase is encoded alone and its values bind its attributes to its
/// noun in every cross-attention layer. <c>true</c> finds the phrases with the service's chunker; an object names them.
/// </summary>
/// <param name="NounPhrases">The phrases as they stand in the prompt ("a red circle"); default: the chunker's.</param>
/// <param name="Steps">Applies on the first fraction of the steps; default 1 (all).</param>
[JsonConverter(typeof(StructuredGuidanceRequestConverter))]
[JsonShape("true, false or an object {\"noun_phrases\": [\"a red circle\", …], \"steps\": 1.0}")]
public sealed record StructuredGuidanceRequest([property: FreeTextItems] IReadOnlyList<string>? NounPhrases = null, double? Steps = null);

/// <summary>Validated Structured Diffusion Guidance; null <see cref="NounPhrases"/> = the chunker's.</summary>
public sealed record StructuredGuidanceUse(IReadOnlyList<string>? NounPhrases, double Steps);

/// <summary>Reads <c>true</c> (defaults), <c>false</c> (off: null) or the object form, strictly; writes the object form.</summary>
public sealed class StructuredGuidanceRequestConverter : JsonConverter<StructuredGuidanceRequest>
{
    private const string NounPhrasesName = "noun_phrases";
    private const string StepsName = "steps";

    public override StructuredGuidanceRequest? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.True:
                return new StructuredGuidanceRequest();
            case JsonTokenType.False:
                return null;
            case JsonTokenType.StartObject:
                break;
            default:
                throw new JsonException("structured_guidance is true, false or an object.");
        }
        IReadOnlyList<string>? phrases = null;
        double? steps = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var name = reader.GetString();
            reader.Read();
            if (name == NounPhrasesName)
                phrases = reader.TokenType == JsonTokenType.Null ? null : JsonSerializer.Deserialize<List<string>>(ref reader, options);
            else if (name == StepsName)
                steps = reader.TokenType == JsonTokenType.Null ? null : reader.GetDouble();
            else
                throw new JsonException($"Unknown field '{name}' in structured_guidance; known fields: {NounPhrasesName}, {StepsName}.");
        }
        return new StructuredGuidanceRequest(phrases, steps);
    }

    public override void Write(Utf8JsonWriter writer, StructuredGuidanceRequest value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        writer.WritePropertyName(NounPhrasesName);
        JsonSerializer.Serialize(writer, value.NounPhrases, options);
        writer.WritePropertyName(StepsName);
        JsonSerializer.Serialize(writer, value.Steps, options);
        writer.WriteEndObject();
    }
}

/// <summary>What a type with its own JSON converter looks like on the wire, for refusals of a value of the wrong shape.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class JsonShapeAttribute(string description) : Attribute
{
    public string Description => description;
}
