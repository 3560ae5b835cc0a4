namespace Easel.Workers;

/// <summary>
/// The Hangfire queues of GPU work. A job goes to the band of its priority; a server serves all bands. Hangfire.InMemory
/// fetches from the queues in the order listed, Hangfire.PostgreSql (1.21) in the alphabetical order of their names, so
/// the names sort like the bands: higher bands run first with either storage. The API's in-process server and the
/// worker executable both serve <see cref="Gpu"/>. Hangfire queue names are lowercase letters, digits and underscores.
/// </summary>
public static class WorkerQueues
{
    public const string GpuHigh = "gpu_1_high";
    public const string GpuNormal = "gpu_2_normal";
    public const string GpuLow = "gpu_3_low";

    /// <summary>The GPU queues in the order a server serves them.</summary>
    public static readonly string[] Gpu = [GpuHigh, GpuNormal, GpuLow];

    /// <summary>priority &gt; 0 → gpu_1_high, 0 → gpu_2_normal, &lt; 0 → gpu_3_low.</summary>
    public static string ForPriority(int priority) => priority switch
    {
        > 0 => GpuHigh,
        < 0 => GpuLow,
        _ => GpuNormal,
    };
}
