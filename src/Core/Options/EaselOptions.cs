using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace Easel.Core.Options;

/// <summary><c>Easel</c>: where the embedded database and the blobs live.</summary>
public sealed class EaselOptions
{
    public const string Section = "Easel";

    /// <summary><c>Easel:DataDir</c> (env <c>Easel__DataDir</c>); relative paths are taken from the working directory.</summary>
    [Required(AllowEmptyStrings = false)]
    public string DataDir { get; set; } = "./data";

    public string DataDirFullPath => Path.GetFullPath(DataDir);
}

/// <summary><c>Easel:Database</c>: which database holds the jobs.</summary>
public sealed class DatabaseOptions : IValidatableObject
{
    public const string Section = "Easel:Database";

    /// <summary><c>sqlite</c> (embedded default, a file under DataDir) or <c>postgres</c> (needs <c>ConnectionStrings:Easel</c>).</summary>
    [Required]
    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;

    /// <summary>Apply migrations at start-up; when unset, true for SQLite and false for PostgreSQL.</summary>
    public bool? MigrateOnStart { get; set; }

    /// <summary><c>ConnectionStrings:Easel</c>, copied here at bind time.</summary>
    public string? ConnectionString { get; set; }

    public bool ShouldMigrateOnStart => MigrateOnStart ?? Provider == DatabaseProvider.Sqlite;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Provider == DatabaseProvider.Postgres && string.IsNullOrWhiteSpace(ConnectionString))
            yield return new ValidationResult(
                "Easel:Database:Provider is postgres but ConnectionStrings:Easel is empty.", [nameof(ConnectionString)]);
    }

    /// <summary>The connection string to use: the configured one, or a SQLite file under the data folder.</summary>
    public string ResolveConnectionString(EaselOptions easel) =>
        !string.IsNullOrWhiteSpace(ConnectionString)
            ? ConnectionString
            : Provider == DatabaseProvider.Sqlite
                ? $"Data Source={Path.Combine(easel.DataDirFullPath, "easel.db")}"
                : throw new InvalidOperationException("ConnectionStrings:Easel is required for PostgreSQL.");
}

public enum DatabaseProvider
{
    Sqlite,
    Postgres,
}

/// <summary><c>Easel:Models:&lt;name&gt;:Path</c> and <c>Easel:DefaultModel</c>.</summary>
public sealed class ModelsOptions : IValidatableObject
{
    /// <summary>Bound from the <c>Easel</c> section: its <c>Models</c> and <c>DefaultModel</c> keys.</summary>
    public const string Section = "Easel";

    public Dictionary<string, ModelOptions> Models { get; set; } = new(StringComparer.Ordinal);

    public string? DefaultModel { get; set; }

    /// <summary>The name under which the bundled shapes model is served.</summary>
    public const string BundledModelName = "easel-shapes";

    /// <summary>Where the build copies the bundled model, relative to the application folder.</summary>
    public const string BundledModelFolder = "models/easel-shapes";

    /// <summary>
    /// The control models trained for the bundled model (see models/README.md), served beside it under their folder
    /// names: a ControlNet on edge maps, a T2I colour adapter and a GLIGEN model grounded on boxes.
    /// </summary>
    public static readonly IReadOnlyList<string> BundledControlModelNames =
        ["easel-shapes-controlnet-edges", "easel-shapes-t2i-color", "easel-shapes-gligen"];

    /// <summary>
    /// With no model configured, serves the model the project trains and ships (see models/easel-shapes), and the
    /// control models trained for it that sit beside it, so that a fresh checkout generates meaningful images at once.
    /// The shapes model is the default (the GLIGEN model is a second pipeline). Configuring any model replaces them all.
    /// </summary>
    public void AddBundledModelWhenNoneConfigured(string bundledFolder)
    {
        if (Models.Count > 0 || !File.Exists(System.IO.Path.Combine(bundledFolder, "unet", "diffusion_pytorch_model.safetensors")))
            return;
        Models[BundledModelName] = new ModelOptions { Path = bundledFolder };
        var modelsFolder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(bundledFolder))!;
        foreach (var name in BundledControlModelNames)
        {
            var folder = System.IO.Path.Combine(modelsFolder, name);
            if (File.Exists(System.IO.Path.Combine(folder, "config.json")) || File.Exists(System.IO.Path.Combine(folder, "model_index.json")))
                Models[name] = new ModelOptions { Path = folder };
        }
        if (string.IsNullOrWhiteSpace(DefaultModel))
            DefaultModel = BundledModelName;
    }

    /// <summary>The configured default, or the only model when exactly one is configured.</summary>
    public string? ResolvedDefaultModel =>
        !string.IsNullOrWhiteSpace(DefaultModel) ? DefaultModel : Models.Count == 1 ? Models.Keys.Single() : null;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var (name, model) in Models)
        {
            var key = $"Easel:Models:{name}";
            if (string.IsNullOrWhiteSpace(model.Path))
                yield return new ValidationResult($"{key}:Path is empty.", [nameof(Models)]);
            else if (ModelOptions.IsPickle(model.Path))
                yield return new ValidationResult($"{key}:Path '{model.Path}' is a pickle file: unpickling can execute arbitrary code, "
                    + "so only .safetensors single files and diffusers folders are loaded. Convert it with a trusted tool first.", [nameof(Models)]);
            else if (ModelOptions.IsSingleFile(model.Path))
            {
                if (!File.Exists(model.Path))
                    yield return new ValidationResult($"{key}:Path '{model.Path}' does not exist.", [nameof(Models)]);
                if (!string.IsNullOrWhiteSpace(model.ConfigFrom) && !File.Exists(System.IO.Path.Combine(model.ConfigFrom, "model_index.json")))
                    yield return new ValidationResult(
                        $"{key}:ConfigFrom '{model.ConfigFrom}' is not a diffusers folder (no model_index.json).", [nameof(Models)]);
            }
            else if (!File.Exists(System.IO.Path.Combine(model.Path, "model_index.json")) && !File.Exists(System.IO.Path.Combine(model.Path, "config.json")))
                yield return new ValidationResult(
                    $"{key}:Path '{model.Path}' is neither a diffusers folder (no model_index.json, nor a control model's config.json) "
                    + "nor a .safetensors single file.", [nameof(Models)]);
            else if (!string.IsNullOrWhiteSpace(model.ConfigFrom))
                yield return new ValidationResult($"{key}:ConfigFrom applies only to single-file checkpoints; '{model.Path}' is a diffusers folder.",
                    [nameof(Models)]);
        }
        // Without models of its own (an API in front of separate workers) the default may name a model the workers serve.
        if (!string.IsNullOrWhiteSpace(DefaultModel) && Models.Count > 0 && !Models.ContainsKey(DefaultModel))
            yield return new ValidationResult(
                $"Easel:DefaultModel '{DefaultModel}' is not one of the configured models ({string.Join(", ", Models.Keys)}).",
                [nameof(DefaultModel)]);
    }
}

/// <summary><c>Easel:Models:&lt;name&gt;</c>: where one model is and what requests for it default to.</summary>
public sealed class ModelOptions
{
    /// <summary>
    /// A local diffusers folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/), or a single-file
    /// checkpoint in the original LDM/SGM layout (<c>.safetensors</c>, as most users download them).
    /// </summary>
    public string Path { get; set; } = "";

    /// <summary>
    /// For a single file: a diffusers folder of the same architecture whose configs, tokenizers and scheduler it is loaded
    /// with (for example the base model's folder); unset = the family's built-in configs.
    /// </summary>
    public string? ConfigFrom { get; set; }

    /// <summary><c>Easel:Models:&lt;name&gt;:Defaults:Steps</c>, <c>:GuidanceScale</c>, <c>:Scheduler</c>, <c>:Width</c>, <c>:Height</c>.</summary>
    public Models.ModelDefaultsOverride? Defaults { get; set; }

    private static readonly string[] PickleExtensions = [".ckpt", ".pt", ".pth", ".bin", ".pkl"];

    public static bool IsSingleFile(string path) => path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase);

    public static bool IsPickle(string path) => PickleExtensions.Any(e => path.EndsWith(e, StringComparison.OrdinalIgnoreCase));
}

/// <summary><c>Easel:Jobs</c>: how submits treat models no worker serves.</summary>
public sealed class JobsOptions
{
    public const string Section = "Easel:Jobs";

    /// <summary>
    /// A request for a known model that no live worker serves: <c>refuse</c> (422 at submit, the default) or <c>wait</c>
    /// (accepted; it runs when a worker serving the model starts).
    /// </summary>
    public UnservedModelPolicy UnservedModel { get; set; } = UnservedModelPolicy.Refuse;
}

public enum UnservedModelPolicy
{
    Refuse,
    Wait,
}

/// <summary><c>Easel:Generation</c>: request limits and the defaults for omitted fields.</summary>
public sealed class GenerationOptions : IValidatableObject
{
    public const string Section = "Easel:Generation";

    [Range(8, 16384)]
    public int MinSize { get; set; } = 64;

    [Range(8, 16384)]
    public int MaxSize { get; set; } = 2048;

    /// <summary>Upper bound of width × height.</summary>
    [Range(64, 268_435_456)]
    public long MaxPixels { get; set; } = 2048L * 2048;

    [Range(1, 1000)]
    public int MaxSteps { get; set; } = 150;

    [Range(1, 64)]
    public int MaxImages { get; set; } = 4;

    [Range(1, 100_000)]
    public int MaxPromptLength { get; set; } = 2000;

    [Range(0.0, 100.0)]
    public double MaxGuidanceScale { get; set; } = 30.0;

    [Range(8, 16384)]
    public int DefaultWidth { get; set; } = 512;

    [Range(8, 16384)]
    public int DefaultHeight { get; set; } = 512;

    [Range(1, 1000)]
    public int DefaultSteps { get; set; } = 30;

    [Range(0.0, 100.0)]
    public double DefaultGuidanceScale { get; set; } = 7.5;

    /// <summary>Checked against the scheduler catalogue by <see cref="DefaultSchedulerValidation"/>.</summary>
    [Required]
    public string DefaultScheduler { get; set; } = "euler";

    /// <summary>Largest accepted encoded input image or mask (img2img, inpaint), in bytes; larger ones are refused with 413.</summary>
    [Range(1024, 1L << 31)]
    public long MaxInputImageBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Most LoRAs one request may apply (the <c>loras</c> field and <c>&lt;lora:…&gt;</c> prompt tags together).</summary>
    [Range(0, 64)]
    public int MaxLoras { get; set; } = 8;

    /// <summary>Largest |scale| of a LoRA in a request; real LoRAs are used between about −2 and 2.</summary>
    [Range(0.0, 100.0)]
    public double MaxLoraScale { get; set; } = 4.0;

    /// <summary>Most textual-inversion embeddings one request may use.</summary>
    [Range(0, 64)]
    public int MaxEmbeddings { get; set; } = 16;

    /// <summary>Most ControlNet units one request may use (each runs a ControlNet every step).</summary>
    [Range(0, 16)]
    public int MaxControlNets { get; set; } = 4;

    /// <summary>strength of image-to-image when the request gives none (diffusers' default).</summary>
    [Range(0.0, 1.0)]
    public double DefaultImageToImageStrength { get; set; } = 0.8;

    /// <summary>
    /// Settings that are each valid but contradict each other, so that every request that relies on a default would be
    /// refused (<c>DefaultSteps=200</c> with <c>MaxSteps=150</c>) or no size could be accepted at all.
    /// </summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        (string Name, int Value)[] sizes =
            [(nameof(MinSize), MinSize), (nameof(MaxSize), MaxSize), (nameof(DefaultWidth), DefaultWidth), (nameof(DefaultHeight), DefaultHeight)];
        foreach (var (name, value) in sizes)
        {
            if (value % 8 != 0)
                yield return Refuse($"{Key(name)} ({value}) must be a multiple of 8", name);
        }
        if (MinSize > MaxSize)
            yield return Refuse($"{Key(nameof(MinSize))} ({MinSize}) must be ≤ {Key(nameof(MaxSize))} ({MaxSize})", nameof(MinSize));
        if ((long)MinSize * MinSize > MaxPixels)
            yield return Refuse($"{Key(nameof(MinSize))}² ({(long)MinSize * MinSize}) must be ≤ {Key(nameof(MaxPixels))} ({MaxPixels})", nameof(MinSize));
        foreach (var (name, value) in sizes[2..])
        {
            if (value < MinSize)
                yield return Refuse($"{Key(name)} ({value}) must be ≥ {Key(nameof(MinSize))} ({MinSize})", name);
            if (value > MaxSize)
                yield return Refuse($"{Key(name)} ({value}) must be ≤ {Key(nameof(MaxSize))} ({MaxSize})", name);
        }
        if ((long)DefaultWidth * DefaultHeight > MaxPixels)
            yield return Refuse(
                $"{Key(nameof(DefaultWidth))} × {Key(nameof(DefaultHeight))} ({(long)DefaultWidth * DefaultHeight}) must be ≤ {Key(nameof(MaxPixels))} ({MaxPixels})",
                nameof(DefaultWidth));
        if (DefaultSteps > MaxSteps)
            yield return Refuse($"{Key(nameof(DefaultSteps))} ({DefaultSteps}) must be ≤ {Key(nameof(MaxSteps))} ({MaxSteps})", nameof(DefaultSteps));
        if (DefaultGuidanceScale > MaxGuidanceScale)
            yield return Refuse(
                $"{Key(nameof(DefaultGuidanceScale))} ({DefaultGuidanceScale.ToString(CultureInfo.InvariantCulture)}) must be ≤ "
                + $"{Key(nameof(MaxGuidanceScale))} ({MaxGuidanceScale.ToString(CultureInfo.InvariantCulture)})",
                nameof(DefaultGuidanceScale));
    }

    private static string Key(string member) => $"{Section}:{member}";

    private static ValidationResult Refuse(string message, string member) => new(message, [member]);
}

/// <summary>Start-up check that <c>Easel:Generation:DefaultScheduler</c> names a scheduler of the catalogue.</summary>
public sealed class DefaultSchedulerValidation(Generation.SchedulerCatalog schedulers) : Microsoft.Extensions.Options.IValidateOptions<GenerationOptions>
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, GenerationOptions options) =>
        schedulers.TryResolve(options.DefaultScheduler, out _)
            ? Microsoft.Extensions.Options.ValidateOptionsResult.Success
            : Microsoft.Extensions.Options.ValidateOptionsResult.Fail(
                $"Easel:Generation:DefaultScheduler '{options.DefaultScheduler}' is not a known scheduler ({string.Join(", ", schedulers.Names)}).");
}

/// <summary><c>Easel:Workers</c>: whether the API process also runs jobs, and on what device.</summary>
public sealed class WorkerOptions : IValidatableObject
{
    public const string Section = "Easel:Workers";

    /// <summary>Run a Hangfire server (one worker, queue "gpu") inside the API process.</summary>
    public bool InProcess { get; set; } = true;

    /// <summary>"auto", "cpu", "cuda" or "cuda:N".</summary>
    [Required]
    [RegularExpression(@"^\s*(?i:auto|cpu|cuda(:[0-9]+)?)\s*$", ErrorMessage = "{0} must be auto, cpu, cuda or cuda:N")]
    public string Device { get; set; } = "auto";

    /// <summary>"float32", "float16" or "bfloat16".</summary>
    [Required]
    [RegularExpression("^(float32|float16|bfloat16)$", ErrorMessage = "{0} must be float32, float16 or bfloat16")]
    public string DType { get; set; } = "float32";

    /// <summary>How many loaded pipelines a worker keeps; loading another evicts the least recently used.</summary>
    [Range(1, 16)]
    public int MaxLoadedModels { get; set; } = 1;

    /// <summary>How many loaded control models (ControlNets) a worker keeps beside its pipelines.</summary>
    [Range(1, 32)]
    public int MaxLoadedControlModels { get; set; } = 4;

    /// <summary>Minimum time between two progress writes to the database.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// On SIGTERM a worker takes no new job and gives the running one this long to finish; then the job is stopped between
    /// two denoising steps and goes back to the queue for another worker. Keep the orchestrator's grace period longer.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A preview PNG (latent→RGB projection) every this many denoising steps; 0 turns previews off.</summary>
    [Range(0, 1000)]
    public int PreviewEvery { get; set; } = 5;

    /// <summary>How often a running job's row gets the worker's heartbeat.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A running job whose heartbeat is older than this is taken from its (lost) worker and queued again.</summary>
    [Range(typeof(TimeSpan), "00:00:00.300", "01:00:00")]
    public TimeSpan HeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How often a running job's row is read for a cancel request, a passed cancel_after, or a status change.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan CancelPollInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How often the recovery sweep runs in each process that hosts a Hangfire server.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan RecoveryInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Claims a job may get; a job whose worker was lost this many times fails instead of being queued again.</summary>
    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 3;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (HeartbeatTimeout <= 2 * HeartbeatInterval)
            yield return new ValidationResult(
                $"{Section}:{nameof(HeartbeatTimeout)} ({HeartbeatTimeout}) must be more than twice {Section}:{nameof(HeartbeatInterval)} "
                + $"({HeartbeatInterval}), or live workers would be taken for lost ones", [nameof(HeartbeatTimeout)]);
        // InferenceDevice refuses half precision on the CPU, so every job would fail at its model load.
        if (Device.Trim().Equals("cpu", StringComparison.OrdinalIgnoreCase) && DType == "float16")
            yield return new ValidationResult(
                $"{Section}:{nameof(DType)} float16 cannot run on {Section}:{nameof(Device)} cpu; use float32 or bfloat16", [nameof(DType)]);
    }
}

/// <summary><c>Easel:Webhooks</c>: delivery of job webhooks.</summary>
public sealed class WebhookOptions : IValidatableObject
{
    public const string Section = "Easel:Webhooks";

    /// <summary>The default wait before the 2nd … 8th attempt (the 1st is immediate), each after the previous failure.</summary>
    public static readonly IReadOnlyList<TimeSpan> DefaultRetryDelays =
    [
        TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30), TimeSpan.FromHours(2),
        TimeSpan.FromHours(5), TimeSpan.FromHours(10), TimeSpan.FromHours(24),
    ];

    /// <summary>Allow webhook targets on loopback, private and link-local addresses (tests and local development only).</summary>
    public bool AllowPrivateTargets { get; set; }

    /// <summary>
    /// <c>Easel:Webhooks:RetryDelays:0</c>, <c>:1</c>, …: the waits before each retry (±10 % jitter); unset means
    /// <see cref="DefaultRetryDelays"/>. Null by default because the configuration binder appends to a pre-filled list.
    /// </summary>
    public List<TimeSpan>? RetryDelays { get; set; }

    public IReadOnlyList<TimeSpan> EffectiveRetryDelays => RetryDelays is { Count: > 0 } ? RetryDelays : DefaultRetryDelays;

    /// <summary>How long one attempt may take until the response headers arrive.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long the previous secret keeps signing alongside the new one after a rotation.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "30.00:00:00")]
    public TimeSpan RotationOverlap { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Hangfire workers of the "webhooks" queue per process: how many receivers are waited on at once.</summary>
    [Range(1, 64)]
    public int DeliveryWorkers { get; set; } = 4;

    /// <summary>
    /// How often the outbox is polled for due messages written by other processes or due retries (a local commit wakes
    /// the dispatcher at once). Longer means less database load and retries that start up to this much after they are due.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (RetryDelays is { } delays && delays.Any(d => d < TimeSpan.Zero || d > TimeSpan.FromDays(7)))
            yield return new ValidationResult(
                $"{Section}:{nameof(RetryDelays)} ({string.Join(", ", delays)}) must each be between 0 and 7 days", [nameof(RetryDelays)]);
    }
}
