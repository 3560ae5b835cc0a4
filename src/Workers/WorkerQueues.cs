namespace Easel.Workers;

/// <summary>
/// The Hangfire queues and which server of a process serves them. The device server runs one job at a time (a GPU
/// holds one model and one batch); housekeeping runs beside it so that it never waits behind a long generation.
/// </summary>
public static class WorkerQueues
{
    /// <summary>Generations and edits.</summary>
    public const string GpuNormal = "gpu";

    /// <summary>The GPU queues in the order a server serves them.</summary>
    public static readonly string[] Gpu = [GpuNormal];

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
}
