using Easel.Inference.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Control.ControlNet;

/// <summary>
/// ControlNet's condition encoder E(c_i) (Zhang et al. 2023, §3.2; key controlnet_cond_embedding): a small conv net that
/// brings the control image down to the latent grid — pairs of a 3×3 conv and a stride-2 3×3 conv, SiLU after each — then a
/// zero-initialised 3×3 conv to the UNet's first block width, so training starts from the unchanged UNet.
/// </summary>
public sealed class ControlNetConditioningEmbedding : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly LoraConv2d conv_in;
    private readonly ModuleList<LoraConv2d> blocks;
    private readonly LoraConv2d conv_out;
#pragma warning restore IDE1006

    /// <param name="embeddingChannels">Output width (block_out_channels[0] of the UNet).</param>
    /// <param name="conditioningChannels">Channels of the control image (3).</param>
    /// <param name="blockOutChannels">conditioning_embedding_out_channels; each step after the first halves the size.</param>
    public ControlNetConditioningEmbedding(long embeddingChannels, long conditioningChannels, IReadOnlyList<int> blockOutChannels,
        string name = "controlnet_cond_embedding") : base(name)
    {
        conv_in = Layers.Conv2d(conditioningChannels, blockOutChannels[0], 3, padding: 1);
        var convs = new List<LoraConv2d>();
        for (var i = 0; i < blockOutChannels.Count - 1; i++)
        {
            convs.Add(Layers.Conv2d(blockOutChannels[i], blockOutChannels[i], 3, padding: 1));
            convs.Add(Layers.Conv2d(blockOutChannels[i], blockOutChannels[i + 1], 3, stride: 2, padding: 1));
        }
        blocks = new ModuleList<LoraConv2d>(convs.ToArray());
        conv_out = Layers.Conv2d(blockOutChannels[^1], embeddingChannels, 3, padding: 1);
        RegisterComponents();
    }

    /// <summary>(B, conditioning_channels, H, W) → (B, embeddingChannels, H / 2^(n−1), W / 2^(n−1)).</summary>
    public override Tensor forward(Tensor conditioning)
    {
        using var scope = torch.NewDisposeScope();
        var embedding = nn.functional.silu(conv_in.call(conditioning));
        foreach (var block in blocks)
            embedding = nn.functional.silu(block.call(embedding));
        return conv_out.call(embedding).MoveToOuterDisposeScope();
    }
}
