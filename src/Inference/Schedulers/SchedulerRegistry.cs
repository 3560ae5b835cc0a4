namespace Easel.Inference.Schedulers;

/// <summary>
/// Maps request scheduler names (canonical snake names, A1111-style names, diffusers class names;
/// case-insensitive) to schedulers built from a model's own scheduler config plus the name's overrides.
/// </summary>
public static class SchedulerRegistry
{
    private static readonly Dictionary<string, Func<SchedulerConfig, IScheduler>> Factories = new(StringComparer.OrdinalIgnoreCase)
    {
        [nameof(DDIMScheduler)] = c => new DDIMScheduler(c),
        [nameof(EulerDiscreteScheduler)] = c => new EulerDiscreteScheduler(c),
        [nameof(EulerAncestralDiscreteScheduler)] = c => new EulerAncestralDiscreteScheduler(c),
        [nameof(DDPMScheduler)] = c => new DDPMScheduler(c),
        [nameof(PNDMScheduler)] = c => new PNDMScheduler(c),
        [nameof(LCMScheduler)] = c => new LCMScheduler(c),
        [nameof(DPMSolverMultistepScheduler)] = c => new DPMSolverMultistepScheduler(c),
        [nameof(LMSDiscreteScheduler)] = c => new LMSDiscreteScheduler(c),
    };

    private static readonly SchedulerDescriptor[] Descriptors =
    [
        new("ddim", "DDIM", nameof(DDIMScheduler), [], c => c),
        new("euler", "Euler", nameof(EulerDiscreteScheduler), ["k_euler"], c => c with { UseKarrasSigmas = false }),
        new("euler_karras", "Euler Karras", nameof(EulerDiscreteScheduler), ["k_euler_karras"], c => c with { UseKarrasSigmas = true }),
        new("euler_a", "Euler a", nameof(EulerAncestralDiscreteScheduler), ["euler_ancestral", "k_euler_a", "k_euler_ancestral"], c => c),
        new("dpmpp_2m", "DPM++ 2M", nameof(DPMSolverMultistepScheduler), ["k_dpmpp_2m"],
            c => c with { AlgorithmType = "dpmsolver++", SolverOrder = 2, UseKarrasSigmas = false }),
        new("dpmpp_2m_karras", "DPM++ 2M Karras", nameof(DPMSolverMultistepScheduler), ["k_dpmpp_2m_karras"],
            c => c with { AlgorithmType = "dpmsolver++", SolverOrder = 2, UseKarrasSigmas = true }),
        new("lms", "LMS", nameof(LMSDiscreteScheduler), ["k_lms"], c => c with { UseKarrasSigmas = false }),
        new("lms_karras", "LMS Karras", nameof(LMSDiscreteScheduler), ["k_lms_karras"], c => c with { UseKarrasSigmas = true }),
        new("ddpm", "DDPM", nameof(DDPMScheduler), [], c => c),
        new("pndm", "PNDM", nameof(PNDMScheduler), ["PLMS"], c => c with { SkipPrkSteps = true }),
        new("lcm", "LCM", nameof(LCMScheduler), [], c => c),
    ];

    private static readonly Dictionary<string, SchedulerDescriptor> ByName = BuildIndex();

    /// <summary>Every scheduler a request can name, in display order.</summary>
    public static IReadOnlyList<SchedulerDescriptor> Schedulers => Descriptors;

    /// <summary>The canonical names (for the API's list endpoint and error messages).</summary>
    public static IReadOnlyList<string> Names { get; } = Descriptors.Select(d => d.Name).ToArray();

    /// <summary>The diffusers scheduler classes Easel implements.</summary>
    public static IReadOnlyList<string> ImplementedClasses { get; } = Factories.Keys.Order(StringComparer.Ordinal).ToArray();

    public static bool IsImplemented(string className) => Factories.ContainsKey(className);

    /// <summary>Finds a scheduler by canonical name or alias (case-insensitive, ignoring surrounding blanks).</summary>
    public static bool TryResolve(string name, out SchedulerDescriptor descriptor) =>
        ByName.TryGetValue(Normalize(name), out descriptor!);

    /// <summary>Finds a scheduler by name or alias, or fails with a message listing the known names.</summary>
    public static SchedulerDescriptor Resolve(string name) =>
        TryResolve(name, out var descriptor)
            ? descriptor
            : throw new UnknownSchedulerException(
                $"Unknown scheduler '{name}'. Known schedulers: {string.Join(", ", Descriptors.Select(d => $"{d.Name} (\"{d.DisplayName}\")"))}; " +
                $"or a diffusers class name: {string.Join(", ", ImplementedClasses)}.");

    /// <summary>
    /// Builds the scheduler a request names on top of the model's own scheduler config. A diffusers
    /// class name builds that class from the config unchanged.
    /// </summary>
    public static IScheduler Create(string name, SchedulerConfig modelConfig)
    {
        if (Factories.TryGetValue(name.Trim(), out var byClass))
            return byClass(modelConfig);
        var descriptor = Resolve(name);
        return Factories[descriptor.ClassName](descriptor.ApplyOverrides(modelConfig));
    }

    /// <summary>Builds the model's own scheduler, named by the config's _class_name.</summary>
    public static IScheduler FromConfig(SchedulerConfig modelConfig) =>
        CreateForClass(modelConfig.ClassName ?? throw new InvalidDataException("The scheduler config has no _class_name."), modelConfig);

    /// <summary>Builds diffusers class <paramref name="className"/> from <paramref name="config"/>.</summary>
    public static IScheduler CreateForClass(string className, SchedulerConfig config) =>
        Factories.TryGetValue(className, out var factory)
            ? factory(config)
            : throw new NotSupportedException(
                $"Scheduler class '{className}' is not implemented. Implemented classes: {string.Join(", ", ImplementedClasses)}; " +
                $"request one of: {string.Join(", ", Names)}.");

    private static Dictionary<string, SchedulerDescriptor> BuildIndex()
    {
        var index = new Dictionary<string, SchedulerDescriptor>(StringComparer.OrdinalIgnoreCase);
        foreach (var d in Descriptors)
            foreach (var key in d.Aliases.Prepend(d.DisplayName).Prepend(d.Name))
                if (!index.TryAdd(Normalize(key), d) && !ReferenceEquals(index[Normalize(key)], d))
                    throw new InvalidOperationException($"Scheduler name '{key}' is registered twice.");
        return index;
    }

    private static string Normalize(string name) => string.Join(' ', name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
}
