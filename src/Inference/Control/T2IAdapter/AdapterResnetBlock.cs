using Easel.Inference.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Control.T2IAdapter;

/// <summary>diffusers' AdapterResnetBlock: x + conv1×1(relu(conv3×3(x))), at constant width.</summary>
public sealed class AdapterResnetBlock : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly LoraConv2d block1;
    private readonly LoraConv2d block2;
#pragma warning restore IDE1006

    public AdapterResnetBlock(long channels) : base(nameof(AdapterResnetBlock))
    {
        block1 = Layers.Conv2d(channels, channels, 3, padding: 1);
        block2 = Layers.Conv2d(channels, channels, 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var h = block2.call(nn.functional.relu(block1.call(x))); // (B, C, H, W)
        return (h + x).MoveToOuterDisposeScope();
    }
}
