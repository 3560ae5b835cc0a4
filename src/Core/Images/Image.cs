namespace Easel.Core.Images;

/// <summary>One result image of a job; the bytes live in the blob store under <see cref="BlobKey"/>.</summary>
public sealed class Image
{
    public Guid Id { get; set; }

    public Guid JobId { get; set; }

    /// <summary>Position in the job's batch, from 0.</summary>
    public int Index { get; set; }

    public string BlobKey { get; set; } = "";

    /// <summary>Lower-case hex SHA-256 of the stored bytes; also the ETag.</summary>
    public string Sha256 { get; set; } = "";

    public long ByteSize { get; set; }

    public int Width { get; set; }

    public int Height { get; set; }

    public long Seed { get; set; }

    public string ContentType { get; set; } = "image/png";

    public DateTimeOffset CreatedAt { get; set; }
}
