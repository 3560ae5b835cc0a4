namespace Easel.Inference.Pipelines;

/// <summary>What a text-to-image run needs; validated by the caller (sizes multiple of 8, steps ≥ 1).</summary>
/// <param name="Scheduler">A scheduler name ("ddim", "euler", …), or null for the one in the model folder.</param>
/// <param name="Seed">Seeds a per-request CPU torch.Generator; image i of the batch uses the latents drawn i-th.</param>
public sealed record TextToImageRequest(
    string Prompt,
    string NegativePrompt,
    int Width,
    int Height,
    int Steps,
    double GuidanceScale,
    long Seed,
    string? Scheduler = null,
    int NumImages = 1,
    double Eta = 0.0);

/// <summary>Reported after every denoising step.</summary>
public sealed record DenoisingProgress(int Step, int TotalSteps);

/// <summary>One generated image as 8-bit RGB, row-major, height × width × 3.</summary>
public sealed record GeneratedImage(int Width, int Height, byte[] Rgb);
