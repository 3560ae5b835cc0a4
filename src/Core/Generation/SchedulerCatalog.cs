using System.Diagnostics.CodeAnalysis;

namespace Easel.Core.Generation;

/// <summary>One scheduler a request may name, as the API lists it.</summary>
/// <param name="Name">Canonical snake_case name stored in jobs ("dpmpp_2m_karras").</param>
/// <param name="DisplayName">The A1111 "Sampler:" name ("DPM++ 2M Karras"); also accepted on requests.</param>
/// <param name="DiffusersClass">The diffusers scheduler class the name builds ("DPMSolverMultistepScheduler").</param>
/// <param name="Aliases">Further accepted spellings (A1111/k-diffusion names such as "k_euler_a").</param>
public sealed record SchedulerInfo(string Name, string DisplayName, string DiffusersClass, IReadOnlyList<string> Aliases);

/// <summary>
/// The schedulers a request may name. Core must not reference the inference core (it would pull libtorch into the API's
/// domain layer and every tool that only reads jobs), yet request validation lives here. So Core owns only this small
/// list; <c>AddEaselWorkers</c> — the layer that sees both — fills it from <c>Easel.Inference.Schedulers.SchedulerRegistry</c>
/// when the container first resolves it. The inference registry stays the single source of truth: nothing here hard-codes
/// a scheduler. Lookups are case-insensitive and ignore surrounding and repeated blanks, like the registry's own.
/// </summary>
public sealed class SchedulerCatalog
{
    private readonly Dictionary<string, SchedulerInfo> _byName = new(StringComparer.OrdinalIgnoreCase);

    public SchedulerCatalog(IEnumerable<SchedulerInfo> schedulers)
    {
        All = schedulers.ToList();
        foreach (var s in All)
            foreach (var key in s.Aliases.Prepend(s.DisplayName).Prepend(s.Name))
                if (!_byName.TryAdd(Normalize(key), s) && !ReferenceEquals(_byName[Normalize(key)], s))
                    throw new InvalidOperationException($"Scheduler name '{key}' is registered twice.");
    }

    /// <summary>Every scheduler, in the order the API lists them.</summary>
    public IReadOnlyList<SchedulerInfo> All { get; }

    public IEnumerable<string> Names => All.Select(s => s.Name);

    /// <summary>Finds a scheduler by canonical name, A1111 display name or alias.</summary>
    public bool TryResolve(string? name, [NotNullWhen(true)] out SchedulerInfo? scheduler)
    {
        scheduler = null;
        return name is not null && _byName.TryGetValue(Normalize(name), out scheduler);
    }

    /// <summary>The A1111 "Sampler:" name of a canonical scheduler (the name itself when unknown).</summary>
    public string DisplayName(string canonical) => TryResolve(canonical, out var s) ? s.DisplayName : canonical;

    private static string Normalize(string name) => string.Join(' ', name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
}
