using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Models;

/// <summary>GEGLU: proj to 2·inner, split into (h, gate), h·gelu(gate).</summary>
public sealed class GEGLU : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly LoraLinear proj;
#pragma warning restore IDE1006

    public GEGLU(long dimIn, long dimOut, string name = "geglu") : base(name)
    {
        proj = Layers.Linear(dimIn, dimOut * 2);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var parts = proj.call(x).chunk(2, -1); // 2 × (B, N, inner)
        return (parts[0] * nn.functional.gelu(parts[1])).MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers' FeedForward with activation_fn "geglu": net.0 = GEGLU, net.1 = dropout, net.2 = Linear.</summary>
public sealed class FeedForward : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly ModuleList<nn.Module<Tensor, Tensor>> net;
#pragma warning restore IDE1006

    public FeedForward(long dim, long innerDim, string activation = "geglu", string name = "ff") : base(name)
    {
        if (activation != "geglu")
            throw new NotSupportedException($"FeedForward activation '{activation}' is not supported (geglu is).");
        net = new ModuleList<nn.Module<Tensor, Tensor>>(new GEGLU(dim, innerDim), nn.Dropout(0.0), Layers.Linear(innerDim, dim));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        foreach (var layer in net)
            x = layer.call(x);
        return x.MoveToOuterDisposeScope();
    }
}
