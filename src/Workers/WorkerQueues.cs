namespace Easel.Workers;

/// <summary>
/// The Hangfire queues and which server of a process serves them. GPU work goes to the band of its priority; the device
/// server runs one job at a time (a GPU holds one model and one batch) and serves all bands; housekeeping runs beside
/// it so that it never waits behind a long generation. Hangfire.InMemory fetches from the queues in the order listed,
/// Hangfire.PostgreSql (1.21) in the alphabetical order of their names, so the names sort like the bands: higher bands
/// run first with either storage. Hangfire queue names are lowercase letters, digits and underscores.
/// </summary>
public static class WorkerQueues
{
    public const string GpuHigh = "gpu_1_high";
    public const string GpuNormal = "gpu_2_normal";
    public const string GpuLow = "gpu_3_low";

    /// <summary>The GPU queues in the order a server serves them.</summary>
    public static readonly string[] Gpu = [GpuHigh, GpuNormal, GpuLow];

    /// <summary>Fine-tunes; on the device server too, since they need the same device.</summary>
    public const string Train = "train";

    /// <summary>Housekeeping (retention).</summary>
    public const string Default = "default";

    /// <summary>The queues of the device server (one worker), in the order Hangfire looks at them.</summary>
    public static readonly string[] Device = [.. Gpu, Train];

    /// <summary>The queues of the housekeeping server.</summary>
    public static readonly string[] Housekeeping = [Default];

    /// <summary>Workers of the housekeeping server: its jobs are short and mostly wait on the database.</summary>
    public const int HousekeepingWorkers = 2;

    /// <summary>priority &gt; 0 → gpu_1_high, 0 → gpu_2_normal, &lt; 0 → gpu_3_low.</summary>
    public static string ForPriority(int priority) => priority switch
    {
        > 0 => GpuHigh,
        < 0 => GpuLow,
        _ => GpuNormal,
    };
}
