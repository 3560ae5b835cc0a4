using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Models.Vae;

/// <summary>
/// diffusers' VAE Decoder: conv_in, mid block with attention, UpDecoderBlock2Ds (layers_per_block + 1
/// resnets each), GroupNorm + act, conv_out to out_channels.
/// </summary>
public sealed class Decoder : nn.Module<Tensor, Tensor>
{
    private const double Eps = 1e-6;
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly LoraConv2d conv_in;
    private readonly UNetMidBlock2D mid_block;
    private readonly ModuleList<UpDecoderBlock2D> up_blocks;
    private readonly GroupNorm conv_norm_out;
    private readonly LoraConv2d conv_out;
#pragma warning restore IDE1006
    private readonly Func<Tensor, Tensor> _act;

    public Decoder(AutoencoderKLConfig c) : base(nameof(Decoder))
    {
        var boc = c.BlockOutChannels;
        conv_in = Layers.Conv2d(c.LatentChannels, boc[^1], 3, padding: 1);
        mid_block = new UNetMidBlock2D(boc[^1], c.NormNumGroups, Eps, c.ActFn, attentionHeadDim: boc[^1], addAttention: c.MidBlockAddAttention);
        var blocks = new List<UpDecoderBlock2D>();
        long output = boc[^1];
        for (var i = 0; i < boc.Count; i++)
        {
            var prev = output;
            output = boc[boc.Count - 1 - i];
            blocks.Add(new UpDecoderBlock2D(c.LayersPerBlock + 1, prev, output, c.NormNumGroups, Eps, c.ActFn, addUpsample: i < boc.Count - 1));
        }
        up_blocks = new ModuleList<UpDecoderBlock2D>(blocks.ToArray());
        conv_norm_out = Layers.GroupNorm(c.NormNumGroups, boc[0], Eps);
        _act = Layers.Activation(c.ActFn);
        conv_out = Layers.Conv2d(boc[0], c.OutChannels, 3, padding: 1);
        RegisterComponents();
    }

    /// <param name="z">(B, latent_channels, h, w) unscaled latents (after post_quant_conv).</param>
    /// <returns>(B, out_channels, h·f, w·f), roughly in [-1, 1] (not clamped).</returns>
    public override Tensor forward(Tensor z)
    {
        using var scope = torch.NewDisposeScope();
        var h = conv_in.call(z); // (B, Cn, h, w)
        h = mid_block.call(h, null); // (B, Cn, h, w)
        foreach (var block in up_blocks)
            h = block.call(h); // (B, Ci, 2h, 2w)
        h = conv_out.call(_act(conv_norm_out.call(h))); // (B, out_channels, H, W)
        return h.MoveToOuterDisposeScope();
    }
}
