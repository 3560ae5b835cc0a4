using Easel.Inference.Loading;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Text;

/// <summary>Strict loading shared by the CLIP text encoders.</summary>
internal static class ClipWeights
{
    // transformers keeps position_ids as a buffer and older checkpoints saved it; positions are computed here instead.
    private const string PositionIdsKey = "text_model.embeddings.position_ids";

    public static void Load(nn.Module model, string componentFolder, Device? device, ScalarType dtype)
    {
        var files = ComponentWeights.Open(componentFolder);
        try
        {
            WeightLoader.LoadInto(model, files, componentFolder, ignore: key => key == PositionIdsKey);
        }
        finally
        {
            foreach (var file in files)
                file.Dispose();
        }
        model.to(dtype);
        if (device is not null)
            model.to(device);
        model.eval();
    }
}
