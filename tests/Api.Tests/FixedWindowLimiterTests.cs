using System.Threading.RateLimiting;
using Easel.Api.Auth;
using Microsoft.Extensions.Time.Testing;

namespace Easel.Api.Tests;

public sealed class FixedWindowLimiterTests
{
    private static TimeSpan RetryAfter(RateLimitLease lease) =>
        lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : throw new InvalidOperationException("no Retry-After");

    [Fact]
    public void A_refusal_two_seconds_into_a_minute_says_58_seconds_and_the_next_window_admits_again()
    {
        var time = new FakeTimeProvider();
        using var limiter = new FixedWindowLimiter(2, TimeSpan.FromMinutes(1), time);

        Assert.True(limiter.AttemptAcquire().IsAcquired);
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(limiter.AttemptAcquire().IsAcquired);
        var refused = limiter.AttemptAcquire();

        Assert.False(refused.IsAcquired);
        Assert.Equal(TimeSpan.FromSeconds(58), RetryAfter(refused));
        time.Advance(TimeSpan.FromSeconds(57.5));
        Assert.Equal(TimeSpan.FromSeconds(0.5), RetryAfter(limiter.AttemptAcquire()));
        time.Advance(TimeSpan.FromSeconds(0.5));
        Assert.True(limiter.AttemptAcquire().IsAcquired);
    }

    [Fact]
    public void A_limiter_is_idle_only_after_its_window_ended_so_dropping_it_forgets_no_count()
    {
        var time = new FakeTimeProvider();
        using var limiter = new FixedWindowLimiter(1, TimeSpan.FromMinutes(1), time);

        limiter.AttemptAcquire();
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.Null(limiter.IdleDuration);
        time.Advance(TimeSpan.FromSeconds(40));
        Assert.Equal(TimeSpan.FromSeconds(10), limiter.IdleDuration);
    }
}
