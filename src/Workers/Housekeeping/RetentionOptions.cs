using System.ComponentModel.DataAnnotations;

namespace Easel.Workers.Housekeeping;

/// <summary><c>Easel:Retention</c>: how long results, event logs and idempotency keys are kept.</summary>
public sealed class RetentionOptions
{
    public const string Section = "Easel:Retention";

    /// <summary>
    /// The images (rows and blobs), stored inputs and event log of a job that finished longer ago than this are deleted;
    /// the job row itself stays, so GET /v1/jobs/{id} still answers. 0 keeps everything.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "3650.00:00:00")]
    public TimeSpan ResultTtl { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Idempotency keys older than this are forgotten (the draft's advertised window: a day).</summary>
    [Range(typeof(TimeSpan), "00:01:00", "365.00:00:00")]
    public TimeSpan IdempotencyKeyTtl { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// A blob put this recently is kept even when no row refers to it yet: a worker stores a result's blob before it
    /// inserts the image row, and the API stores an input before it inserts the job.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan BlobGrace { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>When the retention job runs (cron, UTC); hourly by default.</summary>
    [Required(AllowEmptyStrings = false)]
    public string Schedule { get; set; } = "17 * * * *";

    /// <summary>Jobs handled per transaction.</summary>
    [Range(1, 10_000)]
    public int BatchSize { get; set; } = 200;
}
