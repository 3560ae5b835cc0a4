using Easel.Core.Models;
using Easel.Inference.Loading;
using Easel.Inference.Loading.SingleFile;
using InferenceFamily = Easel.Inference.Loading.SingleFile.ModelFamily;
using ModelFamily = Easel.Core.Models.ModelFamily;

namespace Easel.Workers.Models;

/// <summary>
/// Reads a single-file checkpoint's safetensors header (keys and shapes: no tensor data, no memory map, no libtorch) to
/// tell its family.
/// </summary>
public sealed class SingleFileInspector : ISingleFileInspector
{
    public (ModelFamily Family, bool Inpainting) Inspect(string path)
    {
        SingleFileHeader header;
        try
        {
            header = SingleFileHeader.Read(path);
        }
        catch (CheckpointMismatchException e)
        {
            throw new InvalidDataException(e.Message, e); // keys of no component: not a checkpoint this service loads
        }
        var family = header.Family switch
        {
            InferenceFamily.StableDiffusion1 or InferenceFamily.StableDiffusion1Inpainting => ModelFamily.Sd15,
            InferenceFamily.StableDiffusion2 or InferenceFamily.StableDiffusion2Inpainting => ModelFamily.Sd2,
            InferenceFamily.StableDiffusionXL or InferenceFamily.StableDiffusionXLInpainting => ModelFamily.Sdxl,
            _ => throw new NotSupportedException($"'{Path.GetFileName(path)}' is a {header.Family} checkpoint, which runs only as a second stage."),
        };
        return (family, header.IsInpainting);
    }
}
