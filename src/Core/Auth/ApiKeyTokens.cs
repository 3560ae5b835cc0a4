using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Easel.Core.Auth;

/// <summary>
/// Bearer tokens of API keys: <c>esk_&lt;id&gt;_&lt;secret&gt;</c>, where the id is 16 random hex digits (the key's public
/// id is <c>key_&lt;id&gt;</c>) and the secret 32 random bytes in base64url. Only <see cref="Hash"/> of the whole token
/// is stored; the id part is repeated in the token so that a leaked token can be traced to its key without the database.
/// </summary>
public static class ApiKeyTokens
{
    public const string TokenPrefix = "esk_";

    public const string IdPrefix = "key_";

    public const int SecretBytes = 32;

    /// <summary>A new key row (not yet saved) and its token, which exists only in the return value.</summary>
    public static (ApiKey Key, string Token) Create(string name, int? rateLimitPerMinute, int? maxQueuedJobs, DateTimeOffset now)
    {
        var idPart = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var secret = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(SecretBytes));
        var token = $"{TokenPrefix}{idPart}_{secret}";
        var key = new ApiKey
        {
            Id = IdPrefix + idPart,
            Name = name,
            SecretHash = Hash(token),
            Prefix = $"{TokenPrefix}{idPart}",
            CreatedAt = now,
            RateLimitPerMinute = rateLimitPerMinute,
            MaxQueuedJobs = maxQueuedJobs,
        };
        return (key, token);
    }

    /// <summary>Lower-case hex SHA-256 of the UTF-8 token: the lookup key of <see cref="ApiKey.SecretHash"/>.</summary>
    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>
    /// Compares a presented secret with the expected one in time that does not depend on where they differ (both are
    /// hashed first, so their lengths do not leak either).
    /// </summary>
    public static bool FixedTimeEquals(string presented, string expected) =>
        CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(presented)),
            SHA256.HashData(Encoding.UTF8.GetBytes(expected)));
}
