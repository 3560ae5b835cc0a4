using Easel.Core.Generation;
using Easel.Inference.Control.Preprocessors;

namespace Easel.Api.Apis;

/// <summary>
/// The preprocessor fields that POST /v1/preprocess and a generation's control units share: the preprocessor's name, the
/// resize mode and the preprocessor's parameters, each error keyed by <c>prefix + field</c>.
/// </summary>
public static class PreprocessorFields
{
    /// <summary>Largest blur_sigma: the kernel spans 8σ + 1 pixels.</summary>
    public const double MaxBlurSigma = 16;

    /// <param name="seedField">The name the request gives the shuffle seed (<c>seed</c>, or <c>preprocessor_seed</c> in a unit).</param>
    /// <returns>The preprocessor (null when missing or unknown), the parameters with defaults, the resize mode, and whether
    /// the name was unknown (a well-formed request for something not offered).</returns>
    public static (IControlPreprocessor? Preprocessor, PreprocessorParameters Parameters, ControlResizeMode ResizeMode, bool Unknown) Read(
        string prefix, string? name, bool required, string? resizeMode, double? lowThreshold, double? highThreshold, double? blurSigma,
        long? seed, string seedField, Action<string, string> add)
    {
        IControlPreprocessor? preprocessor = null;
        var unknown = false;
        if (string.IsNullOrWhiteSpace(name))
        {
            if (required)
                add($"{prefix}preprocessor", $"preprocessor is required: one of {string.Join(", ", ControlPreprocessors.Names)}.");
            else
                ControlPreprocessors.TryGet("none", out preprocessor);
        }
        else if (!ControlPreprocessors.TryGet(name, out preprocessor))
        {
            unknown = true;
            add($"{prefix}preprocessor", $"Unknown preprocessor '{name}'. Known preprocessors: {string.Join(", ", ControlPreprocessors.Names)}.");
        }

        var mode = ControlResizeMode.Crop;
        if (resizeMode is not null && !ControlImageResize.TryParse(resizeMode, out mode))
            add($"{prefix}resize_mode", $"Unknown resize_mode '{resizeMode}'. Known resize modes: resize, crop, fill.");

        bool Parameter(string field, PreprocessorParameter parameter, double? value, double min, double max)
        {
            if (value is not { } v)
                return true;
            if (preprocessor is not null && !preprocessor.Parameters.Contains(parameter))
                add(prefix + field, $"{field} does not apply to {preprocessor.Name}; it applies to "
                    + string.Join(", ", ControlPreprocessors.All.Where(p => p.Parameters.Contains(parameter)).Select(p => p.Name)) + ".");
            else if (!double.IsFinite(v) || v < min || v > max)
                add(prefix + field, $"{field} must be between {min} and {max}.");
            else
                return true;
            return false;
        }
        var lowValid = Parameter("low_threshold", PreprocessorParameter.LowThreshold, lowThreshold, 0, CannyPreprocessor.MaxThreshold);
        var highValid = Parameter("high_threshold", PreprocessorParameter.HighThreshold, highThreshold, 0, CannyPreprocessor.MaxThreshold);
        Parameter("blur_sigma", PreprocessorParameter.BlurSigma, blurSigma, 0, MaxBlurSigma);
        Parameter(seedField, PreprocessorParameter.Seed, seed, 0, GenerationRequestValidator.MaxSeed);
        var defaults = PreprocessorParameters.Default;
        var parameters = new PreprocessorParameters(lowThreshold ?? defaults.LowThreshold, highThreshold ?? defaults.HighThreshold,
            blurSigma ?? defaults.BlurSigma, seed ?? defaults.Seed);
        if (lowValid && highValid && parameters.LowThreshold > parameters.HighThreshold)
            add($"{prefix}low_threshold", $"low_threshold ({parameters.LowThreshold}) must be at most high_threshold ({parameters.HighThreshold}).");
        return (preprocessor, parameters, mode, unknown);
    }
}
