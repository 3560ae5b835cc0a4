using System.Security.Cryptography;
using System.Text;
using Easel.Core.Data;
using Microsoft.EntityFrameworkCore;

namespace Easel.Core.Webhooks;

/// <summary>
/// Standard Webhooks signing: <c>webhook-signature: v1,&lt;base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")&gt;</c>, where the
/// key is the base64-decoded part of the secret after <c>whsec_</c>. Several signatures are space-separated.
/// </summary>
public static class WebhookSignature
{
    /// <summary>The <c>webhook-id</c> of a delivery: the same for every attempt, so receivers can drop duplicates.</summary>
    public static string MessageId(Guid deliveryId) => $"msg_{deliveryId}";

    public static string Sign(IEnumerable<string> secrets, string messageId, long timestamp, string body)
    {
        var content = Encoding.UTF8.GetBytes($"{messageId}.{timestamp}.{body}");
        return string.Join(' ', secrets.Select(secret => "v1," + Convert.ToBase64String(HMACSHA256.HashData(WebhookSecrets.KeyOf(secret), content))));
    }
}

/// <summary>One signing secret per owner, created on first use, rotatable with an overlap.</summary>
public static class WebhookSecrets
{
    public const string Prefix = "whsec_";

    /// <summary><c>whsec_</c> + base64 of 32 random bytes.</summary>
    public static string NewSecret() => Prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    public static byte[] KeyOf(string secret) =>
        Convert.FromBase64String(secret.StartsWith(Prefix, StringComparison.Ordinal) ? secret[Prefix.Length..] : secret);

    /// <summary>The secret of <paramref name="owner"/> ("" while authentication is off), created if it does not exist yet.</summary>
    public static async Task<WebhookSecret> GetOrCreateAsync(EaselDbContext db, string owner, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var existing = await db.WebhookSecrets.SingleOrDefaultAsync(s => s.Owner == owner, cancellationToken);
        if (existing is not null)
            return existing;
        var created = new WebhookSecret { Owner = owner, Secret = NewSecret(), CreatedAt = now };
        db.WebhookSecrets.Add(created);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            return created;
        }
        catch (DbUpdateException)
        {
            // Another request or delivery created it first: theirs is the one receivers will see.
            db.Entry(created).State = EntityState.Detached;
            return await db.WebhookSecrets.SingleAsync(s => s.Owner == owner, cancellationToken);
        }
    }

    /// <summary>Replaces the secret; the current one keeps signing alongside until now + <paramref name="overlap"/>.</summary>
    public static async Task<WebhookSecret> RotateAsync(EaselDbContext db, string owner, DateTimeOffset now, TimeSpan overlap,
        CancellationToken cancellationToken)
    {
        var secret = await GetOrCreateAsync(db, owner, now, cancellationToken);
        secret.PreviousSecret = secret.Secret;
        secret.PreviousExpiresAt = now + overlap;
        secret.Secret = NewSecret();
        secret.RotatedAt = now;
        await db.SaveChangesAsync(cancellationToken);
        return secret;
    }

    /// <summary>The secrets a message is signed with at <paramref name="now"/>: the current one, and the previous one during the overlap.</summary>
    public static IReadOnlyList<string> SigningSecrets(WebhookSecret secret, DateTimeOffset now) =>
        secret.PreviousSecret is { } previous && secret.PreviousExpiresAt > now ? [secret.Secret, previous] : [secret.Secret];

    /// <summary>When the previous secret stops signing, or null when only the current one signs.</summary>
    public static DateTimeOffset? PreviousExpiry(WebhookSecret secret, DateTimeOffset now) =>
        secret.PreviousSecret is not null && secret.PreviousExpiresAt > now ? secret.PreviousExpiresAt : null;
}
