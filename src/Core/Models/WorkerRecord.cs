namespace Easel.Core.Models;

/// <summary>
/// A process that runs jobs (a worker executable, or the API's in-process worker), as it registered itself in the
/// database: the API learns from these rows which models can run, without loading any. A worker whose heartbeat is older
/// than <c>Easel:Workers:HeartbeatTimeout</c>, or that stopped, serves nothing; its model rows stay, so that the API can
/// still describe (and in the <c>wait</c> mode accept) jobs for its models.
/// </summary>
public sealed class WorkerRecord
{
    /// <summary><c>host:pid:suffix</c>: the <c>host:pid</c> jobs record in <c>worker_name</c>, and a suffix per registration.</summary>
    public string Id { get; set; } = "";

    /// <summary><c>worker</c> (the worker executable) or <c>api</c> (a worker inside the API process).</summary>
    public string Role { get; set; } = "";

    /// <summary>The device it runs on, as configured (<c>cpu</c>, <c>cuda:0</c>, <c>auto</c>).</summary>
    public string Device { get; set; } = "";

    /// <summary>The Hangfire queues its device server listens to.</summary>
    public string Queues { get; set; } = "";

    public DateTimeOffset StartedAt { get; set; }

    public DateTimeOffset HeartbeatAt { get; set; }

    /// <summary>Set when it shut down cleanly; null while it runs (or when it died without saying so).</summary>
    public DateTimeOffset? StoppedAt { get; set; }

    public List<WorkerModel> Models { get; set; } = [];

    /// <summary>Whether it counts as serving its models at <paramref name="now"/>.</summary>
    public bool IsLive(DateTimeOffset now, TimeSpan heartbeatTimeout) => StoppedAt is null && HeartbeatAt >= now - heartbeatTimeout;
}

/// <summary>One model a worker serves, described as <see cref="ModelInfo"/> is (columns snake_case, one row per worker and model).</summary>
public sealed class WorkerModel
{
    public string WorkerId { get; set; } = "";

    public string Name { get; set; } = "";

    public string Path { get; set; } = "";

    public ModelFamily Family { get; set; }

    public ModelFormat Format { get; set; }

    public bool Inpainting { get; set; }

    public int SampleSize { get; set; }

    public int VaeScaleFactor { get; set; }

    public int DefaultWidth { get; set; }

    public int DefaultHeight { get; set; }

    public int? DefaultSteps { get; set; }

    public double? DefaultGuidanceScale { get; set; }

    public string? DefaultScheduler { get; set; }

    /// <summary>The worker's own default model (<c>Easel:DefaultModel</c>, or its only model).</summary>
    public bool IsDefault { get; set; }

    public string? Problem { get; set; }

    public ModelKind Kind { get; set; }

    /// <summary>The <see cref="UNetLayout"/> as JSON, or null when unknown.</summary>
    public string? Layout { get; set; }

    public static WorkerModel From(string workerId, ModelInfo model)
    {
        var defaults = model.EffectiveDefaults;
        return new WorkerModel
        {
            WorkerId = workerId,
            Name = model.Name,
            Path = model.Path,
            Family = model.Family,
            Format = model.Format,
            Inpainting = model.Inpainting,
            SampleSize = model.SampleSize,
            VaeScaleFactor = model.VaeScaleFactor,
            DefaultWidth = defaults.Width,
            DefaultHeight = defaults.Height,
            DefaultSteps = defaults.Steps,
            DefaultGuidanceScale = defaults.GuidanceScale,
            DefaultScheduler = defaults.Scheduler,
            IsDefault = model.IsDefault,
            Problem = model.Problem,
            Kind = model.Kind,
            Layout = model.Layout?.ToJson(),
        };
    }

    public ModelInfo ToInfo(IReadOnlyList<string> liveWorkers) => new(Name, Path, Family, Inpainting, IsDefault, Problem, VaeScaleFactor,
        SampleSize, Format, new ModelDefaults(DefaultWidth, DefaultHeight, DefaultSteps, DefaultGuidanceScale, DefaultScheduler),
        Workers: liveWorkers, Kind: Kind, Layout: UNetLayout.FromJson(Layout));
}

/// <summary>
/// The worker registrations of this process that are running now. The catalogue counts them as live whatever their row's
/// heartbeat says: a process that is itself answering the request knows its own worker is there, even when a busy CPU
/// delayed the heartbeat write (the embedded mode never refuses its own models for that).
/// </summary>
public sealed class LocalWorkerRegistrations
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _running = new(StringComparer.Ordinal);

    public void Started(string workerId) => _running[workerId] = 0;

    public void Stopping(string workerId) => _running.TryRemove(workerId, out _);

    public bool IsRunning(string workerId) => _running.ContainsKey(workerId);
}
