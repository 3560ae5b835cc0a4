using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Models.Vae;

/// <summary>
/// diffusers' VAE Encoder: conv_in, DownEncoderBlock2Ds (padding-0 downsamplers), mid block with attention,
/// GroupNorm + act, conv_out to 2·latent_channels (mean and log-variance).
/// </summary>
public sealed class Encoder : nn.Module<Tensor, Tensor>
{
    private const double Eps = 1e-6;
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly LoraConv2d conv_in;
    private readonly ModuleList<DownEncoderBlock2D> down_blocks;
    private readonly UNetMidBlock2D mid_block;
    private readonly GroupNorm conv_norm_out;
    private readonly LoraConv2d conv_out;
#pragma warning restore IDE1006
    private readonly Func<Tensor, Tensor> _act;

    public Encoder(AutoencoderKLConfig c, bool doubleZ = true) : base(nameof(Encoder))
    {
        var boc = c.BlockOutChannels;
        conv_in = Layers.Conv2d(c.InChannels, boc[0], 3, padding: 1);
        var blocks = new List<DownEncoderBlock2D>();
        long output = boc[0];
        for (var i = 0; i < boc.Count; i++)
        {
            var input = output;
            output = boc[i];
            blocks.Add(new DownEncoderBlock2D(c.LayersPerBlock, input, output, c.NormNumGroups, Eps, c.ActFn,
                addDownsample: i < boc.Count - 1, downsamplePadding: 0));
        }
        down_blocks = new ModuleList<DownEncoderBlock2D>(blocks.ToArray());
        mid_block = new UNetMidBlock2D(boc[^1], c.NormNumGroups, Eps, c.ActFn, attentionHeadDim: boc[^1], addAttention: c.MidBlockAddAttention);
        conv_norm_out = Layers.GroupNorm(c.NormNumGroups, boc[^1], Eps);
        _act = Layers.Activation(c.ActFn);
        conv_out = Layers.Conv2d(boc[^1], doubleZ ? 2 * c.LatentChannels : c.LatentChannels, 3, padding: 1);
        RegisterComponents();
    }

    /// <param name="x">(B, in_channels, H, W) image in [-1, 1].</param>
    /// <returns>(B, 2·latent_channels, H/f, W/f)</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var h = conv_in.call(x); // (B, C0, H, W)
        foreach (var block in down_blocks)
            h = block.call(h); // (B, Ci, H/2^i, W/2^i)
        h = mid_block.call(h, null); // (B, Cn, h, w)
        h = conv_out.call(_act(conv_norm_out.call(h))); // (B, 2·latent, h, w)
        return h.MoveToOuterDisposeScope();
    }
}
