namespace Easel.Inference.Schedulers;

/// <summary>
/// One scheduler a request may name: its canonical snake name ("dpmpp_2m_karras"), the
/// A1111-style display name ("DPM++ 2M Karras"), further aliases, the diffusers class it builds
/// and the config overrides the name implies on top of the model's own scheduler_config.json.
/// </summary>
public sealed record SchedulerDescriptor(
    string Name,
    string DisplayName,
    string ClassName,
    IReadOnlyList<string> Aliases,
    Func<SchedulerConfig, SchedulerConfig> ApplyOverrides);
