namespace Easel.Core;

public static class TimeProviderExtensions
{
    /// <summary>UTC now truncated to whole milliseconds: the precision every database keeps, so a timestamp reads back
    /// exactly as it was written and the POST answer equals a later GET.</summary>
    public static DateTimeOffset GetUtcNowMilliseconds(this TimeProvider time)
    {
        var now = time.GetUtcNow();
        return now.AddTicks(-(now.Ticks % TimeSpan.TicksPerMillisecond));
    }
}
