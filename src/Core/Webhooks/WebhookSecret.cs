namespace Easel.Core.Webhooks;

/// <summary>
/// The signing secret of one owner (Standard Webhooks: <c>whsec_</c> + base64 of random bytes). After a rotation the
/// previous secret keeps signing alongside the new one until <see cref="PreviousExpiresAt"/>, so receivers can switch.
/// </summary>
public sealed class WebhookSecret
{
    /// <summary>The API key id, or "" for the single global secret used while authentication is off.</summary>
    public string Owner { get; set; } = "";

    public string Secret { get; set; } = "";

    public string? PreviousSecret { get; set; }

    public DateTimeOffset? PreviousExpiresAt { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? RotatedAt { get; set; }
}
