using Easel.Inference.Models.UNet;
using Easel.Inference.Models.Vae;

namespace Easel.Bench;

/// <summary>
/// Analytic multiply-add counts (×2 = FLOPs) of one forward pass, walked from the model config the same way the
/// model is built: every conv and linear (2·in·out·k²·pixels), and attention's two matmuls (QKᵀ and PV: 4·N·M·inner).
/// Norms, activations, softmax and the time embedding are left out (well under 1 %). Checked against the issue's
/// figures: SD1.5 at a 64×64 latent 0.803 TFLOP and SDXL at 128×128 6.76 TFLOP per sample.
/// </summary>
internal static class FlopCount
{
    private static double Conv(long cin, long cout, int k, long h, long w) => 2.0 * cin * cout * k * k * h * w;
    private static double Linear(long fin, long fout, long tokens) => 2.0 * fin * fout * tokens;

    private static double Resnet(long cin, long cout, long h, long w) =>
        Conv(cin, cout, 3, h, w) + Conv(cout, cout, 3, h, w) + (cin != cout ? Conv(cin, cout, 1, h, w) : 0);

    /// <summary>Transformer2DModel: proj_in, depth × (self-attn, cross-attn, GEGLU feed-forward), proj_out.</summary>
    private static double Transformer(long c, long h, long w, int depth, long crossDim, long textTokens)
    {
        var n = h * w;
        var block = 4 * Linear(c, c, n) + 4.0 * n * n * c // attn1: q, k, v, out + QKᵀ, PV
                    + 2 * Linear(c, c, n) + 2 * Linear(crossDim, c, textTokens) + 4.0 * n * textTokens * c // attn2
                    + Linear(c, 8 * c, n) + Linear(4 * c, c, n); // GEGLU: c → 2·4c, 4c → c
        return 2 * Linear(c, c, n) + depth * block;
    }

    /// <summary>
    /// The UNet's conv_in, down blocks and mid block — what a ControlNet copies — with the channels of every skip
    /// connection (conv_in first) and the mid block's output size.
    /// </summary>
    private static (double Flops, List<(long C, long H, long W)> Skips, long Channels, long H, long W) EncoderAndMid(UNet2DConditionConfig config, int latent, int textTokens)
    {
        var boc = config.BlockOutChannels;
        var blocks = boc.Count;
        long h = latent, w = latent;
        var total = Conv(config.InChannels, boc[0], config.ConvInKernel, h, w);
        var skips = new List<(long C, long H, long W)> { (boc[0], h, w) };
        long channels = boc[0];
        for (var i = 0; i < blocks; i++)
        {
            var cross = config.DownBlockTypes[i].StartsWith("CrossAttn", StringComparison.Ordinal);
            var depth = config.TransformerLayersPerBlock.For(i, blocks);
            var crossDim = config.CrossAttentionDim.For(i, blocks);
            for (var l = 0; l < config.LayersPerBlock.For(i, blocks); l++)
            {
                total += Resnet(channels, boc[i], h, w);
                channels = boc[i];
                if (cross)
                    total += Transformer(channels, h, w, depth, crossDim, textTokens);
                skips.Add((channels, h, w));
            }
            if (i < blocks - 1)
            {
                h /= 2;
                w /= 2;
                total += Conv(channels, channels, 3, h, w);
                skips.Add((channels, h, w));
            }
        }
        // Mid block: resnet, transformer, resnet.
        total += 2 * Resnet(channels, channels, h, w);
        if (config.MidBlockType == "UNetMidBlock2DCrossAttn")
            total += Transformer(channels, h, w, config.TransformerLayersPerBlock.For(blocks - 1, blocks), config.CrossAttentionDim.For(blocks - 1, blocks), textTokens);
        return (total, skips, channels, h, w);
    }

    /// <summary>
    /// One ControlNet call per sample: the conditioning embedding (3 → c₀ at the image size, pairs of 3×3 convs halving it,
    /// conv_out to the UNet's first channels), the UNet's encoder and mid block, and a 1×1 zero conv per residual.
    /// </summary>
    public static double ControlNet(UNet2DConditionConfig unet, IReadOnlyList<int> embeddingChannels, int latent, int textTokens = 77)
    {
        var (total, skips, channels, h, w) = EncoderAndMid(unet, latent, textTokens);
        var size = (long)latent << (embeddingChannels.Count - 1);
        total += Conv(3, embeddingChannels[0], 3, size, size);
        for (var i = 0; i < embeddingChannels.Count - 1; i++)
        {
            total += Conv(embeddingChannels[i], embeddingChannels[i], 3, size, size);
            size /= 2;
            total += Conv(embeddingChannels[i], embeddingChannels[i + 1], 3, size, size);
        }
        total += Conv(embeddingChannels[^1], unet.BlockOutChannels[0], 3, latent, latent);
        foreach (var (c, sh, sw) in skips)
            total += Conv(c, c, 1, sh, sw);
        return total + Conv(channels, channels, 1, h, w);
    }

    /// <summary>One UNet2DConditionModel call per sample at a <paramref name="latent"/>² latent, 77 text tokens.</summary>
    public static double UNet(UNet2DConditionConfig config, int latent, int textTokens = 77)
    {
        var boc = config.BlockOutChannels;
        var blocks = boc.Count;
        var (total, skipChannels, channels, h, w) = EncoderAndMid(config, latent, textTokens);
        var skips = new Stack<long>(skipChannels.Select(s => s.C));
        var reversed = boc.Reverse().ToList();
        for (var i = 0; i < blocks; i++)
        {
            var down = blocks - 1 - i;
            var cross = config.UpBlockTypes[i].StartsWith("CrossAttn", StringComparison.Ordinal);
            var depth = config.TransformerLayersPerBlock.For(down, blocks);
            var crossDim = config.CrossAttentionDim.For(down, blocks);
            for (var l = 0; l < config.LayersPerBlock.For(down, blocks) + 1; l++)
            {
                total += Resnet(channels + skips.Pop(), reversed[i], h, w);
                channels = reversed[i];
                if (cross)
                    total += Transformer(channels, h, w, depth, crossDim, textTokens);
            }
            if (i < blocks - 1)
            {
                h *= 2;
                w *= 2;
                total += Conv(channels, channels, 3, h, w);
            }
        }
        return total + Conv(boc[0], config.OutChannels, config.ConvOutKernel, h, w);
    }

    /// <summary>The VAE decoder (post_quant_conv, conv_in, mid block with one attention, up blocks, conv_out) at a <paramref name="latent"/>² latent.</summary>
    public static double VaeDecoder(AutoencoderKLConfig config, int latent)
    {
        var boc = config.BlockOutChannels;
        long h = latent, w = latent;
        long c = boc[^1];
        var total = Conv(config.LatentChannels, config.LatentChannels, 1, h, w) + Conv(config.LatentChannels, c, 3, h, w);
        var n = h * w;
        total += 2 * Resnet(c, c, h, w) + 4 * Linear(c, c, n) + 4.0 * n * n * c;
        var reversed = boc.Reverse().ToList();
        for (var i = 0; i < reversed.Count; i++)
        {
            for (var l = 0; l < config.LayersPerBlock + 1; l++)
            {
                total += Resnet(c, reversed[i], h, w);
                c = reversed[i];
            }
            if (i < reversed.Count - 1)
            {
                h *= 2;
                w *= 2;
                total += Conv(c, c, 3, h, w);
            }
        }
        return total + Conv(c, config.OutChannels, 3, h, w);
    }
}
