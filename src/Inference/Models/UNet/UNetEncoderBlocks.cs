using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Models.UNet;

/// <summary>
/// Builds the contracting half of a UNet (down blocks and mid block) from a <see cref="UNet2DConditionConfig"/>: the UNet
/// and a ControlNet (a trainable copy of that half, Zhang et al. 2023) get the same blocks, hence the same checkpoint keys.
/// </summary>
public static class UNetEncoderBlocks
{
    /// <summary>The options of block <paramref name="blockIndex"/> (per-block config values resolved for it).</summary>
    public static UNetBlockOptions Options(UNet2DConditionConfig config, long timeEmbedDim, int numLayers, int transformerLayers,
        long inChannels, long outChannels, long prevOutputChannels, bool addResample, int blockIndex)
    {
        var n = config.BlockOutChannels.Count;
        return new UNetBlockOptions(numLayers, transformerLayers, inChannels, outChannels, prevOutputChannels, timeEmbedDim, addResample,
            config.NormEps, config.ActFn, config.NormNumGroups!.Value, config.CrossAttentionDim.For(blockIndex, n),
            config.HeadsPerBlock.For(blockIndex, n), config.DownsamplePadding, config.UseLinearProjection,
            config.OnlyCrossAttentionFor(blockIndex), config.UpcastAttention, config.ResnetTimeScaleShift, config.ResnetSkipTimeAct,
            config.IsGated);
    }

    /// <summary>The down blocks, in order (every block but the last ends with a downsampler).</summary>
    public static ModuleList<UNetDownBlock> DownBlocks(UNet2DConditionConfig config, long timeEmbedDim)
    {
        var boc = config.BlockOutChannels;
        var n = boc.Count;
        var downs = new List<UNetDownBlock>();
        long outputChannel = boc[0];
        for (var i = 0; i < n; i++)
        {
            var inputChannel = outputChannel;
            outputChannel = boc[i];
            var o = Options(config, timeEmbedDim, config.LayersPerBlock.For(i, n), config.TransformerLayersPerBlock.For(i, n),
                inputChannel, outputChannel, 0, i < n - 1, i);
            downs.Add(config.DownBlockTypes[i] switch
            {
                "CrossAttnDownBlock2D" => new CrossAttnDownBlock2D(o),
                "DownBlock2D" => new DownBlock2D(o),
                var t => throw new NotSupportedException($"Down block type '{t}' is not supported."),
            });
        }
        return new ModuleList<UNetDownBlock>(downs.ToArray());
    }

    /// <summary>The mid block, or null for mid_block_type null.</summary>
    public static UNetMidBlock2DCrossAttn? MidBlock(UNet2DConditionConfig config, long timeEmbedDim)
    {
        if (config.MidBlockType != "UNetMidBlock2DCrossAttn")
            return null;
        var boc = config.BlockOutChannels;
        var n = boc.Count;
        var o = Options(config, timeEmbedDim, 1, config.TransformerLayersPerBlock.For(n - 1, n), boc[n - 1], boc[n - 1], 0, false, n - 1);
        return new UNetMidBlock2DCrossAttn(o, config.MidBlockScaleFactor);
    }

    /// <summary>
    /// The time embedding (B, T) of a UNet or ControlNet call: timestep features through the time MLP, plus SDXL's added
    /// text_time embedding (pooled text embeds and the Fourier features of the six size/crop ids) when the model has one.
    /// </summary>
    /// <param name="timestep">0-d or (B) timesteps; a 0-d value is broadcast to the batch of <paramref name="sample"/>.</param>
    public static Tensor TimeEmbedding(Timesteps timeProj, TimestepEmbedding timeEmbedding, Timesteps? addTimeProj, TimestepEmbedding? addEmbedding,
        Tensor timestep, Tensor sample, AddedConditions? added, Action<string, Tensor>? observe = null)
    {
        var timesteps = timestep.to(sample.device);
        if (timesteps.dim() == 0)
            timesteps = timesteps.unsqueeze(0); // (1)
        timesteps = timesteps.expand(sample.shape[0]); // (B)
        var tEmb = timeProj.call(timesteps).to(sample.dtype); // (B, C0)
        observe?.Invoke("time_proj", tEmb);
        var emb = timeEmbedding.call(tEmb); // (B, T)
        observe?.Invoke("time_embedding", emb);
        if (addEmbedding is null || addTimeProj is null)
            return emb;
        if (added is null)
            throw new ArgumentException("This model has addition_embed_type 'text_time' and needs AddedConditions (text_embeds, time_ids).", nameof(added));
        var timeEmbeds = addTimeProj.call(added.TimeIds.flatten()); // (B·6, add_dim)
        timeEmbeds = timeEmbeds.reshape(added.TextEmbeds.shape[0], -1); // (B, 6·add_dim)
        var addEmbeds = torch.cat([added.TextEmbeds, timeEmbeds], -1).to(emb.dtype); // (B, proj_in_dim)
        var augEmb = addEmbedding.call(addEmbeds); // (B, T)
        observe?.Invoke("add_embedding", augEmb);
        return emb + augEmb;
    }
}
