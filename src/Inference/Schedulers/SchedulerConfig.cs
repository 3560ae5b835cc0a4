using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Easel.Inference.Loading;

namespace Easel.Inference.Schedulers;

/// <summary>
/// A diffusers scheduler_config.json (the union of the keys of every scheduler Easel implements).
/// Property names are the snake_case keys; unknown keys are ignored. Keys whose default differs
/// between diffusers scheduler classes are nullable and resolved by each scheduler
/// (e.g. <see cref="TimestepSpacing"/>: "leading" for DDIM, "linspace" for Euler).
/// </summary>
public sealed record SchedulerConfig
{
    /// <summary>diffusers class that wrote the config ("_class_name"), e.g. "PNDMScheduler".</summary>
    [JsonPropertyName("_class_name")]
    public string? ClassName { get; init; }

    public int NumTrainTimesteps { get; init; } = 1000;
    public double BetaStart { get; init; } = 0.0001;
    public double BetaEnd { get; init; } = 0.02;
    /// <summary>linear | scaled_linear | squaredcos_cap_v2.</summary>
    public string BetaSchedule { get; init; } = "linear";
    public IReadOnlyList<double>? TrainedBetas { get; init; }
    /// <summary>epsilon | v_prediction | sample.</summary>
    public string PredictionType { get; init; } = "epsilon";
    /// <summary>leading | trailing | linspace; null = the scheduler's own default.</summary>
    public string? TimestepSpacing { get; init; }
    public int StepsOffset { get; init; }
    public bool RescaleBetasZeroSnr { get; init; }

    // DDIM / DDPM / PNDM / LCM
    public bool? ClipSample { get; init; }
    public double ClipSampleRange { get; init; } = 1.0;
    public bool? SetAlphaToOne { get; init; }
    public bool Thresholding { get; init; }
    public double DynamicThresholdingRatio { get; init; } = 0.995;
    public double SampleMaxValue { get; init; } = 1.0;
    /// <summary>DDPM: fixed_small | fixed_small_log | fixed_large | fixed_large_log | learned | learned_range.</summary>
    public string? VarianceType { get; init; }
    public bool SkipPrkSteps { get; init; }

    // Euler / LMS / DPM-Solver sigma schedules
    public bool UseKarrasSigmas { get; init; }
    /// <summary>linear | log_linear (EulerDiscrete).</summary>
    public string InterpolationType { get; init; } = "linear";
    /// <summary>discrete | continuous (EulerDiscrete).</summary>
    public string TimestepType { get; init; } = "discrete";
    public double? SigmaMin { get; init; }
    public double? SigmaMax { get; init; }

    // DPMSolverMultistep
    public int SolverOrder { get; init; } = 2;
    /// <summary>dpmsolver++ | dpmsolver | sde-dpmsolver++ | sde-dpmsolver.</summary>
    public string AlgorithmType { get; init; } = "dpmsolver++";
    /// <summary>midpoint | heun.</summary>
    public string SolverType { get; init; } = "midpoint";
    public bool LowerOrderFinal { get; init; } = true;
    public bool EulerAtFinal { get; init; }
    public bool UseLuLambdas { get; init; }
    /// <summary>zero | sigma_min.</summary>
    public string? FinalSigmasType { get; init; }
    [JsonConverter(typeof(LenientDoubleConverter))]
    public double LambdaMinClipped { get; init; } = double.NegativeInfinity;

    // LCM
    public int OriginalInferenceSteps { get; init; } = 50;
    public double TimestepScaling { get; init; } = 10.0;

    private static readonly JsonSerializerOptions Options = new(ConfigJson.Options)
    {
        Converters = { new LenientDoubleConverter(), new LenientNullableDoubleConverter() },
    };

    /// <summary>Parses a scheduler config from JSON text (a scheduler_config.json or a fixture's params.config).</summary>
    public static SchedulerConfig Parse(string json) =>
        JsonSerializer.Deserialize<SchedulerConfig>(QuoteBareNonFinite(json), Options)
        ?? throw new InvalidDataException("Empty scheduler config.");

    /// <summary>Reads scheduler/scheduler_config.json (or any scheduler config file).</summary>
    public static SchedulerConfig Read(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"Scheduler config '{path}' does not exist.", path);
        try
        {
            return Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Scheduler config '{path}' is not valid: {e.Message}", e);
        }
    }

    /// <summary>
    /// Python's json module writes non-finite floats as bare NaN / Infinity / -Infinity tokens
    /// (diffusers does so for lambda_min_clipped); System.Text.Json only accepts them quoted.
    /// </summary>
    private static string QuoteBareNonFinite(string json)
    {
        var sb = new StringBuilder(json.Length);
        var inString = false;
        for (var i = 0; i < json.Length; i++)
        {
            var c = json[i];
            if (inString)
            {
                sb.Append(c);
                if (c == '\\' && i + 1 < json.Length) sb.Append(json[++i]);
                else if (c == '"') inString = false;
                continue;
            }
            if (c == '"') { inString = true; sb.Append(c); continue; }
            var matched = false;
            foreach (var token in (ReadOnlySpan<string>)["-Infinity", "Infinity", "NaN"])
            {
                if (string.CompareOrdinal(json, i, token, 0, token.Length) == 0)
                {
                    sb.Append('"').Append(token).Append('"');
                    i += token.Length - 1;
                    matched = true;
                    break;
                }
            }
            if (!matched) sb.Append(c);
        }
        return sb.ToString();
    }
}

/// <summary>Reads a double written as a number or as a string such as "-inf", "inf", "nan", "-Infinity".</summary>
internal sealed class LenientDoubleConverter : JsonConverter<double>
{
    public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType switch
        {
            JsonTokenType.Number => reader.GetDouble(),
            JsonTokenType.String => ParseName(reader.GetString()!),
            _ => throw new JsonException($"Expected a number, found {reader.TokenType}."),
        };

    internal static double ParseName(string text) => text.Trim().ToLowerInvariant() switch
    {
        "-inf" or "-infinity" => double.NegativeInfinity,
        "inf" or "+inf" or "infinity" or "+infinity" => double.PositiveInfinity,
        "nan" => double.NaN,
        var s => double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v)
            ? v
            : throw new JsonException($"'{text}' is not a number."),
    };

    public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
    {
        if (double.IsFinite(value)) writer.WriteNumberValue(value);
        else writer.WriteStringValue(double.IsNaN(value) ? "nan" : value > 0 ? "inf" : "-inf");
    }
}

/// <summary>Nullable variant of <see cref="LenientDoubleConverter"/>.</summary>
internal sealed class LenientNullableDoubleConverter : JsonConverter<double?>
{
    public override double? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType switch
        {
            JsonTokenType.Null => null,
            JsonTokenType.Number => reader.GetDouble(),
            JsonTokenType.String => LenientDoubleConverter.ParseName(reader.GetString()!),
            _ => throw new JsonException($"Expected a number or null, found {reader.TokenType}."),
        };

    public override void Write(Utf8JsonWriter writer, double? value, JsonSerializerOptions options)
    {
        if (value is null) writer.WriteNullValue();
        else new LenientDoubleConverter().Write(writer, value.Value, options);
    }
}
