namespace Easel.Inference.Control.Preprocessors;

/// <summary>The tunable values of the preprocessors; each reads the ones its <see cref="IControlPreprocessor.Parameters"/> name.</summary>
/// <param name="LowThreshold">Canny's lower hysteresis threshold on the L1 Sobel magnitude (A1111 default 100).</param>
/// <param name="HighThreshold">Canny's upper threshold (A1111 default 200); must be at least <paramref name="LowThreshold"/>.</param>
/// <param name="BlurSigma">Gaussian smoothing before Canny's Sobel, in pixels; 0 (the default) smooths nothing, as cv2.Canny.</param>
/// <param name="Seed">The seed of shuffle's random warp: the same seed gives the same map.</param>
public sealed record PreprocessorParameters(double LowThreshold = 100, double HighThreshold = 200, double BlurSigma = 0, long Seed = 0)
{
    public static PreprocessorParameters Default { get; } = new();
}

/// <summary>One value of <see cref="PreprocessorParameters"/>.</summary>
public enum PreprocessorParameter
{
    LowThreshold,
    HighThreshold,
    BlurSigma,
    Seed,
}
