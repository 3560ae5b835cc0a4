namespace Easel.Core.Artifacts;

/// <summary>
/// Writes a LoRA artifact in another layout for download (<c>GET /v1/artifacts/{id}/file?format=</c>). The implementation
/// lives in Easel.Workers beside the artifact files; it runs in the API process, so it must not load libtorch.
/// </summary>
public interface IArtifactConverter
{
    /// <summary>The file of <paramref name="artifact"/> in <paramref name="format"/>, as a readable stream positioned at 0.</summary>
    /// <exception cref="ArgumentException">The weights cannot be written in that layout (say why).</exception>
    Task<Stream> ConvertLoraAsync(Artifact artifact, ArtifactFormat format, CancellationToken cancellationToken);
}
