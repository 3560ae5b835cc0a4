using Easel.Inference.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Models;

/// <summary>The LoRA-aware layers: the side path, merging, and exact restoration of the original weights.</summary>
public sealed class LoraLayerTests
{
    [Fact]
    public void LinearSidePath_EqualsTheBaseOutputPlusScaledUpTimesDown()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(1);
        using var layer = Layers.Linear(8, 6);
        var lora = new LoraLayerWeights(torch.randn(2, 8), torch.randn(6, 2), alpha: 1.0);
        var x = torch.randn(3, 8);
        var plain = layer.call(x);
        layer.AddAdapter(lora, 0.7);
        var expected = plain + 0.7 * (1.0 / 2) * x.matmul(lora.Down.t()).matmul(lora.Up.t());
        Assert.True(torch.allclose(layer.call(x), expected, 1e-5, 1e-5));
    }

    [Fact]
    public void ConvMerged_EqualsTheSidePath_AndUnmergeRestoresTheOriginalBits()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(2);
        using var layer = Layers.Conv2d(4, 5, 3, stride: 2, padding: 1);
        var original = layer.Weight.detach().clone();
        var x = torch.randn(1, 4, 9, 9);
        layer.AddAdapter(new LoraLayerWeights(torch.randn(3, 4, 3, 3), torch.randn(5, 3, 1, 1), alpha: 3.0), 0.5);
        layer.AddAdapter(new LoraLayerWeights(torch.randn(2, 4, 3, 3), torch.randn(5, 2, 1, 1), alpha: 1.0), -1.0);
        var unmerged = layer.call(x);
        layer.Merge();
        Assert.True(torch.allclose(layer.call(x), unmerged, 1e-4, 1e-4));
        layer.ClearAdapters();
        Assert.False(layer.IsMerged);
        Assert.True(torch.equal(layer.Weight, original).all().item<bool>());
    }

    [Fact]
    public void LinearUpdateOnAOneByOneConv_IsReshapedToTheConvolution()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(3);
        using var layer = Layers.Conv2d(4, 4, 1);
        var x = torch.randn(1, 4, 3, 3);
        var plain = layer.call(x);
        layer.AddAdapter(new LoraLayerWeights(torch.zeros(2, 4), torch.randn(4, 2), alpha: 2.0), 1.0);
        Assert.True(torch.equal(layer.call(x), plain).all().item<bool>());
        Assert.Throws<ArgumentException>(() => layer.AddAdapter(new LoraLayerWeights(torch.zeros(2, 5), torch.randn(4, 2), 2.0), 1.0));
    }

    [Fact]
    public void ModelParameters_KeepTheirCheckpointNames_AndAdaptersAddNone()
    {
        using var attention = new Attention(new AttentionOptions(8, 2, 4, CrossAttentionDim: 6));
        var names = attention.named_parameters().Select(p => p.name).ToList();
        Assert.Equal(["to_q.weight", "to_k.weight", "to_v.weight", "to_out.0.weight", "to_out.0.bias"], names);
        attention.ToQ.AddAdapter(new LoraLayerWeights(torch.zeros(2, 8), torch.zeros(8, 2), 2.0), 1.0);
        Assert.Equal(names, attention.named_parameters().Select(p => p.name).ToList());
    }

    [Fact]
    public void LayersBuiltInsideADisposeScope_OutliveIt()
    {
        // A model loaded lazily inside a request's (or a test's) scope must keep its parameters after that scope ends.
        LoraLinear linear;
        LoraConv2d conv;
        using (torch.NewDisposeScope())
        {
            linear = Layers.Linear(4, 3);
            conv = Layers.Conv2d(2, 3, 3, padding: 1);
        }
        using (linear)
        using (conv)
        using (torch.NewDisposeScope())
        {
            Assert.Equal([1L, 3], linear.forward(torch.ones(1, 4)).shape);
            Assert.Equal([1L, 3, 5, 5], conv.forward(torch.ones(1, 2, 5, 5)).shape);
        }
    }
}
