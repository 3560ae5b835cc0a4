using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Models;

/// <summary>Construction helpers shared by every model module.</summary>
public static class Layers
{
    /// <summary>
    /// A GroupNorm with weight 1 and bias 0. TorchSharp 0.107 leaves GroupNorm's affine parameters
    /// uninitialised, so every GroupNorm in the models is built here.
    /// </summary>
    public static GroupNorm GroupNorm(long numGroups, long numChannels, double eps)
    {
        if (numChannels % numGroups != 0)
            throw new ArgumentException($"GroupNorm: {numChannels} channels cannot be split into {numGroups} groups.");
        var norm = nn.GroupNorm(numGroups, numChannels, eps, affine: true);
        using (torch.no_grad())
        {
            norm.weight!.fill_(1.0);
            norm.bias!.fill_(0.0);
        }
        return norm;
    }

    /// <summary>A LayerNorm with weight 1 and bias 0 (initialised explicitly for the same reason).</summary>
    public static LayerNorm LayerNorm(long dim, double eps, bool elementwiseAffine = true)
    {
        var norm = nn.LayerNorm(dim, eps, elementwise_affine: elementwiseAffine);
        if (elementwiseAffine)
        {
            using (torch.no_grad())
            {
                norm.weight!.fill_(1.0);
                norm.bias!.fill_(0.0);
            }
        }
        return norm;
    }

    /// <summary>
    /// A linear layer that LoRA updates can target (<see cref="LoraLinear"/>). Every Linear of the UNet and the text
    /// encoders is built here, so that a LoRA file's keys find a layer whatever module they name.
    /// </summary>
    public static LoraLinear Linear(long inFeatures, long outFeatures, bool hasBias = true) => new(inFeatures, outFeatures, hasBias);

    /// <summary>A square 2-D convolution with the given kernel, stride and padding that LoRA updates can target (<see cref="LoraConv2d"/>).</summary>
    public static LoraConv2d Conv2d(long inChannels, long outChannels, long kernel, long stride = 1, long padding = 0) =>
        new(inChannels, outChannels, kernel, stride, padding);

    /// <summary>The activation named by a diffusers act_fn value.</summary>
    public static Func<Tensor, Tensor> Activation(string name) => name switch
    {
        "silu" or "swish" => x => nn.functional.silu(x),
        "gelu" => x => nn.functional.gelu(x),
        "relu" => x => nn.functional.relu(x),
        "mish" => x => nn.functional.mish(x),
        _ => throw new NotSupportedException($"Activation function '{name}' is not supported (silu, swish, gelu, relu, mish are)."),
    };
}
