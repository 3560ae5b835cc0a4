using System.ComponentModel.DataAnnotations;

namespace Easel.Api.Auth;

/// <summary>
/// <c>Easel:Auth</c>: API keys and per-key limits. Without <see cref="AdminKey"/> authentication is off: the service is
/// open to every caller, so it listens on loopback only and refuses requests from other addresses.
/// </summary>
public sealed class AuthOptions : IValidatableObject
{
    public const string Section = "Easel:Auth";

    /// <summary>The owner of what the admin key creates (API key ids are <c>key_…</c>, so it never collides with one).</summary>
    public const string AdminOwner = "admin";

    /// <summary>The minimum length of <see cref="AdminKey"/>, so that it cannot be guessed.</summary>
    public const int MinAdminKeyLength = 32;

    /// <summary>
    /// <c>Easel:Auth:AdminKey</c> (env <c>Easel__Auth__AdminKey</c>): manages API keys and opens the Hangfire dashboard.
    /// Setting it turns authentication on for every /v1 endpoint.
    /// </summary>
    public string? AdminKey { get; set; }

    /// <summary>Requests per minute of a key created without its own limit (and of each address while authentication is off).</summary>
    [Range(1, 1_000_000)]
    public int DefaultRateLimitPerMinute { get; set; } = 1200;

    /// <summary>Jobs a key may have queued at once when it was created without its own cap.</summary>
    [Range(1, 1_000_000)]
    public int DefaultMaxQueuedJobs { get; set; } = 100;

    /// <summary>Bytes of artifacts a key may keep stored when it was created without its own quota (and the open service's quota).</summary>
    [Range(0, long.MaxValue)]
    public long DefaultMaxStorageBytes { get; set; } = 10L << 30;

    /// <summary>While authentication is off, limit each remote address to <see cref="DefaultRateLimitPerMinute"/>; false turns the limit off.</summary>
    public bool RateLimitWhenOpen { get; set; } = true;

    /// <summary>Seconds a client refused for a full queue is told to wait (Retry-After).</summary>
    [Range(1, 3600)]
    public int QueueFullRetryAfterSeconds { get; set; } = 30;

    public bool IsEnabled => !string.IsNullOrEmpty(AdminKey);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (AdminKey is { Length: > 0 } key && (key.Length < MinAdminKeyLength || key.Any(char.IsWhiteSpace)))
            yield return new ValidationResult(
                $"Easel:Auth:AdminKey must be at least {MinAdminKeyLength} characters without white space (e.g. openssl rand -base64 48).",
                [nameof(AdminKey)]);
    }
}
