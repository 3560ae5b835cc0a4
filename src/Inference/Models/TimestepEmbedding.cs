using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Models;

/// <summary>diffusers' TimestepEmbedding: linear_1 → act → linear_2.</summary>
public sealed class TimestepEmbedding : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly LoraLinear linear_1;
    private readonly LoraLinear linear_2;
#pragma warning restore IDE1006
    private readonly Func<Tensor, Tensor> _act;

    public TimestepEmbedding(long inChannels, long timeEmbedDim, string activation, string name = "time_embedding") : base(name)
    {
        _act = Layers.Activation(activation);
        linear_1 = Layers.Linear(inChannels, timeEmbedDim);
        linear_2 = Layers.Linear(timeEmbedDim, timeEmbedDim);
        RegisterComponents();
    }

    /// <param name="sample">(B, inChannels)</param>
    /// <returns>(B, timeEmbedDim)</returns>
    public override Tensor forward(Tensor sample)
    {
        using var scope = torch.NewDisposeScope();
        return linear_2.call(_act(linear_1.call(sample))).MoveToOuterDisposeScope();
    }
}
