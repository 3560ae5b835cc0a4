using Easel.Inference.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Control.T2IAdapter;

/// <summary>
/// diffusers' FullAdapter and FullAdapterXL (Mou et al. 2023, §3.2): pixel unshuffle to the latent grid, a 3×3 conv, then
/// one <see cref="AdapterBlock"/> per entry of channels, each block's output being one feature. The SD layout halves the
/// size in every block after the first (one feature per UNet down block); the XL layout keeps the first two sizes and
/// halves only in the third block, matching SDXL's [320, 64²], [640, 64²], [1280, 32²], [1280, 32²] (the last one for the
/// mid block).
/// </summary>
public sealed class FullAdapter : nn.Module<Tensor, IReadOnlyList<Tensor>>
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly LoraConv2d conv_in;
    private readonly ModuleList<AdapterBlock> body;
#pragma warning restore IDE1006
    private readonly int _downscaleFactor;

    public FullAdapter(T2IAdapterConfig config) : base(nameof(FullAdapter))
    {
        var channels = config.Channels;
        _downscaleFactor = config.DownscaleFactor;
        conv_in = Layers.Conv2d(config.InChannels * config.DownscaleFactor * config.DownscaleFactor, channels[0], 3, padding: 1);
        var xl = config.AdapterType == "full_adapter_xl";
        body = new ModuleList<AdapterBlock>(Enumerable.Range(0, channels.Count).Select(i => xl
            ? i switch
            {
                1 => new AdapterBlock(channels[0], channels[1], config.NumResBlocks),
                2 => new AdapterBlock(channels[1], channels[2], config.NumResBlocks, down: true),
                _ => new AdapterBlock(channels[i], channels[i], config.NumResBlocks),
            }
            : i == 0
                ? new AdapterBlock(channels[0], channels[0], config.NumResBlocks)
                : new AdapterBlock(channels[i - 1], channels[i], config.NumResBlocks, down: true)).ToArray());
        RegisterComponents();
    }

    /// <summary>(B, in_channels, H, W) → one feature per block, finest first.</summary>
    public override IReadOnlyList<Tensor> forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        x = nn.functional.pixel_unshuffle(x, _downscaleFactor); // (B, in·f², H/f, W/f)
        x = conv_in.call(x); // (B, C0, H/f, W/f)
        var features = new List<Tensor>();
        foreach (var block in body)
        {
            x = block.call(x); // (B, Ci, h, w)
            features.Add(x);
        }
        return features.Select(f => f.MoveToOuterDisposeScope()).ToList();
    }
}
