using Easel.Core.Artifacts;
using Easel.Inference.Customization.Lora;

namespace Easel.Workers.Artifacts;

/// <summary>
/// Rewrites a stored LoRA in kohya, diffusers or PEFT layout: the same updates, keys renamed, and α folded into the up
/// weights for the layouts that carry none. The API serves this, so it goes through <see cref="LoraLayoutConverter"/>,
/// which reads and writes the bytes without TorchSharp: the API process never loads libtorch.
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
        var output = new MemoryStream();
        LoraLayoutConverter.Convert(files.LocalFile(artifact), target, output);
        output.Position = 0;
        return Task.FromResult<Stream>(output);
    }
}
