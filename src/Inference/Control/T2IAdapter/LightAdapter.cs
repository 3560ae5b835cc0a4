using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Control.T2IAdapter;

/// <summary>
/// diffusers' LightAdapter: pixel unshuffle, then <see cref="LightAdapterBlock"/>s — the first at the unshuffled size, one
/// halving block per further entry of channels, and an extra halving block at the last width. It thus gives one feature
/// more than channels has entries; the UNet leaves that coarsest one unused unless its shape fits the mid block.
/// </summary>
public sealed class LightAdapter : nn.Module<Tensor, IReadOnlyList<Tensor>>
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly ModuleList<LightAdapterBlock> body;
#pragma warning restore IDE1006
    private readonly int _downscaleFactor;

    public LightAdapter(T2IAdapterConfig config) : base(nameof(LightAdapter))
    {
        var channels = config.Channels;
        _downscaleFactor = config.DownscaleFactor;
        var blocks = new List<LightAdapterBlock> { new(config.InChannels * config.DownscaleFactor * config.DownscaleFactor, channels[0], config.NumResBlocks) };
        for (var i = 0; i < channels.Count - 1; i++)
            blocks.Add(new LightAdapterBlock(channels[i], channels[i + 1], config.NumResBlocks, down: true));
        blocks.Add(new LightAdapterBlock(channels[^1], channels[^1], config.NumResBlocks, down: true));
        body = new ModuleList<LightAdapterBlock>(blocks.ToArray());
        RegisterComponents();
    }

    /// <summary>(B, in_channels, H, W) → one feature per block, finest first.</summary>
    public override IReadOnlyList<Tensor> forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        x = nn.functional.pixel_unshuffle(x, _downscaleFactor); // (B, in·f², H/f, W/f)
        var features = new List<Tensor>();
        foreach (var block in body)
        {
            x = block.call(x); // (B, Ci, h, w)
            features.Add(x);
        }
        return features.Select(f => f.MoveToOuterDisposeScope()).ToList();
    }
}
