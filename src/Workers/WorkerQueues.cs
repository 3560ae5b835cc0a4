namespace Easel.Workers;

/// <summary>
/// The Hangfire queues of GPU work. A job goes to the band of its priority; a server lists the bands in this order, and
/// Hangfire fetches from the first queue that has a job, so higher bands run first. The API's in-process server and the
/// worker executable both serve <see cref="Gpu"/>. Hangfire queue names are lowercase letters, digits and underscores.
/// </summary>
public static class WorkerQueues
{
    public const string GpuHigh = "gpu_high";
    public const string GpuNormal = "gpu";
    public const string GpuLow = "gpu_low";

    /// <summary>The GPU queues in the order a server serves them.</summary>
    public static readonly string[] Gpu = [GpuHigh, GpuNormal, GpuLow];

    /// <summary>priority &gt; 0 → gpu_high, 0 → gpu, &lt; 0 → gpu_low.</summary>
    public static string ForPriority(int priority) => priority switch
    {
        > 0 => GpuHigh,
        < 0 => GpuLow,
        _ => GpuNormal,
    };
}
