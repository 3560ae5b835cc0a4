namespace Easel.Core.Jobs;

/// <summary>
/// An Idempotency-Key seen on a POST (draft-ietf-httpapi-idempotency-key-header): per owner, the fingerprint of the
/// request it came with and the job it created. Kept for a day; a repeat with the same fingerprint returns the job,
/// with another fingerprint it is refused.
/// </summary>
public sealed class IdempotencyRecord
{
    /// <summary>The API key id, or "" while authentication is off.</summary>
    public string Owner { get; set; } = "";

    public string Key { get; set; } = "";

    /// <summary>Lower-case hex SHA-256 over the method, path and body.</summary>
    public string RequestHash { get; set; } = "";

    public Guid JobId { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}
