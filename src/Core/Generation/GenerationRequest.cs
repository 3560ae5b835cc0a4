namespace Easel.Core.Generation;

/// <summary>
/// A text-to-image request as the client sends it (<c>POST /v1/generations</c>). Omitted fields take the configured
/// defaults; <see cref="GenerationRequestValidator"/> turns it into <see cref="GenerationParameters"/>.
/// </summary>
public sealed record GenerationRequest(
    string? Prompt,
    string? NegativePrompt = null,
    string? Model = null,
    int? Width = null,
    int? Height = null,
    int? Steps = null,
    double? GuidanceScale = null,
    long? Seed = null,
    string? Scheduler = null,
    int? NumImages = null);

/// <summary>
/// A validated generation with every value decided (defaults applied, scheduler normalized, seed chosen): what the job
/// stores as its request and what the worker runs. Image <c>i</c> of the batch is recorded with seed <c>Seed + i</c>
/// only as a label; the pipeline draws the batch's latents from one generator seeded with <see cref="Seed"/>.
/// </summary>
public sealed record GenerationParameters(
    string Prompt,
    string NegativePrompt,
    string Model,
    int Width,
    int Height,
    int Steps,
    double GuidanceScale,
    long Seed,
    string Scheduler,
    int NumImages);
