using Easel.Inference.Loading;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Text;

/// <summary>Strict loading shared by the CLIP text encoders.</summary>
internal static class ClipWeights
{
    // transformers keeps position_ids as a buffer and older checkpoints saved it; positions are computed here instead.
    internal const string PositionIdsKey = "text_model.embeddings.position_ids";

    public static void Load(nn.Module model, string componentFolder, Device? device, ScalarType dtype)
    {
        using var weights = OpenFolder(componentFolder);
        Load(model, weights, device, dtype);
    }

    /// <summary>The safetensors weights of a text encoder folder (text_encoder/, text_encoder_2/), without position_ids.</summary>
    public static SafeTensorsWeightSource OpenFolder(string componentFolder) =>
        SafeTensorsWeightSource.OpenFolder(componentFolder, componentFolder, ignore: key => key == PositionIdsKey);

    public static void Load(nn.Module model, IWeightSource weights, Device? device, ScalarType dtype) =>
        WeightLoader.LoadNew(model, weights, device, dtype);
}
