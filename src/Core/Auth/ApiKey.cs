namespace Easel.Core.Auth;

/// <summary>
/// A client's bearer key. Only the SHA-256 of the secret is stored (keys are long random strings, so a plain hash is
/// enough); the secret is shown once, when the admin creates the key. Everything the key creates is owned by <see cref="Id"/>.
/// </summary>
public sealed class ApiKey
{
    /// <summary>Public id, also the owner of jobs and images (e.g. <c>key_…</c>).</summary>
    public string Id { get; set; } = "";

    public string Name { get; set; } = "";

    /// <summary>Lower-case hex SHA-256 of the whole bearer token.</summary>
    public string SecretHash { get; set; } = "";

    /// <summary>The first characters of the token, to recognise it in listings.</summary>
    public string Prefix { get; set; } = "";

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? RevokedAt { get; set; }

    /// <summary>Requests per minute; null takes the configured default.</summary>
    public int? RateLimitPerMinute { get; set; }

    /// <summary>Queued jobs allowed at once; null takes the configured default.</summary>
    public int? MaxQueuedJobs { get; set; }

    /// <summary>Bytes of artifacts the key may keep stored; null takes the configured default.</summary>
    public long? MaxStorageBytes { get; set; }

    public bool IsRevoked => RevokedAt is not null;
}
