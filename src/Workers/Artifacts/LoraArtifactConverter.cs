using Easel.Core.Artifacts;
using Easel.Inference.Customization.Lora;

namespace Easel.Workers.Artifacts;

/// <summary>
/// Rewrites a stored LoRA in kohya, diffusers or PEFT layout: the same updates, keys renamed, and α folded into the up
/// weights for the layouts that carry none (see <see cref="LoraFile.Write"/>), so every output loads at the same strength.
/// </summary>
public sealed class LoraArtifactConverter(RequestArtifacts files) : IArtifactConverter
{
    public Task<Stream> ConvertLoraAsync(Artifact artifact, ArtifactFormat format, CancellationToken cancellationToken)
    {
        var target = format switch
        {
            ArtifactFormat.Kohya => LoraFormat.Kohya,
            ArtifactFormat.Diffusers => LoraFormat.Diffusers,
            ArtifactFormat.Peft => LoraFormat.Peft,
            _ => throw new ArgumentException($"{format} is not a LoRA layout.", nameof(format)),
        };
        using var adapter = LoraFile.Load(files.LocalFile(artifact), artifact.Name);
        var output = new MemoryStream();
        LoraFile.Write(adapter, target, output);
        output.Position = 0;
        return Task.FromResult<Stream>(output);
    }
}
