using System.Threading.RateLimiting;

namespace Easel.Api.Auth;

/// <summary>
/// A fixed window of <c>permitLimit</c> requests per <c>window</c>, starting with the first request and restarting
/// with the first request after it ended. Unlike the framework's FixedWindowRateLimiter, whose refusals carry the whole
/// window as <see cref="MetadataName.RetryAfter"/> (60 s two seconds into a minute) and whose windows drift with its
/// replenishment timer, a refusal here carries exactly the time left in the current window.
/// </summary>
public sealed class FixedWindowLimiter(int permitLimit, TimeSpan window, TimeProvider time) : RateLimiter
{
    private readonly Lock _lock = new();
    private long _windowStart;
    private bool _started;
    private int _used;
    private long _successfulLeases;
    private long _failedLeases;

    /// <summary>Idle once its last window has ended, so that the partitioned limiter may drop it without forgetting a count.</summary>
    public override TimeSpan? IdleDuration
    {
        get
        {
            lock (_lock)
            {
                if (!_started)
                    return TimeSpan.Zero;
                var sinceEnd = time.GetElapsedTime(_windowStart) - window;
                return sinceEnd >= TimeSpan.Zero ? sinceEnd : null;
            }
        }
    }

    public override RateLimiterStatistics? GetStatistics()
    {
        lock (_lock)
        {
            return new RateLimiterStatistics
            {
                CurrentAvailablePermits = Math.Max(0, permitLimit - CurrentUse()),
                CurrentQueuedCount = 0,
                TotalSuccessfulLeases = _successfulLeases,
                TotalFailedLeases = _failedLeases,
            };
        }
    }

    protected override RateLimitLease AttemptAcquireCore(int permitCount)
    {
        lock (_lock)
        {
            if (!_started || time.GetElapsedTime(_windowStart) >= window)
            {
                _windowStart = time.GetTimestamp();
                _started = true;
                _used = 0;
            }
            if (permitCount == 0 || _used + permitCount <= permitLimit)
            {
                _used += permitCount;
                _successfulLeases++;
                return Lease.Granted;
            }
            _failedLeases++;
            return new Lease(window - time.GetElapsedTime(_windowStart));
        }
    }

    /// <summary>No queue: a request over the limit is refused at once, with the time left.</summary>
    protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken) =>
        ValueTask.FromResult(AttemptAcquireCore(permitCount));

    private int CurrentUse() => _started && time.GetElapsedTime(_windowStart) < window ? _used : 0;

    private sealed class Lease(TimeSpan? retryAfter) : RateLimitLease
    {
        public static readonly Lease Granted = new(null);

        public override bool IsAcquired => retryAfter is null;

        public override IEnumerable<string> MetadataNames => retryAfter is null ? [] : [MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = retryAfter;
            return retryAfter is not null && metadataName == MetadataName.RetryAfter.Name;
        }
    }
}
