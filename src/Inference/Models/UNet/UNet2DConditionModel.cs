using Easel.Inference.Control.Gligen;
using Easel.Inference.Loading;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Models.UNet;

/// <summary>
/// diffusers' UNet2DConditionModel (SD 1.x, SD 2.x, inpainting and SDXL layouts), built entirely from
/// its <see cref="UNet2DConditionConfig"/>. Parameter names equal the diffusers checkpoint keys.
/// </summary>
public sealed class UNet2DConditionModel : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly LoraConv2d conv_in;
    private readonly Timesteps time_proj;
    private readonly TimestepEmbedding time_embedding;
    private readonly Timesteps? add_time_proj;
    private readonly TimestepEmbedding? add_embedding;
    private readonly ModuleList<UNetDownBlock> down_blocks;
    private readonly UNetMidBlock2DCrossAttn? mid_block;
    private readonly ModuleList<UNetUpBlock> up_blocks;
    private readonly GroupNorm conv_norm_out;
    private readonly LoraConv2d conv_out;
    private readonly GligenTextBoundingboxProjection? position_net;
#pragma warning restore IDE1006
    private readonly Func<Tensor, Tensor> _convAct;
    private readonly int _numUpsamplers;

    public UNet2DConditionModel(UNet2DConditionConfig config) : base(nameof(UNet2DConditionModel))
    {
        config.Validate();
        Config = config;
        var boc = config.BlockOutChannels;
        var n = boc.Count;
        var groups = config.NormNumGroups!.Value;
        var timeEmbedDim = config.TimeEmbeddingDim ?? boc[0] * 4;

        conv_in = Layers.Conv2d(config.InChannels, boc[0], config.ConvInKernel, padding: (config.ConvInKernel - 1) / 2);
        time_proj = new Timesteps(boc[0], config.FlipSinToCos, config.FreqShift);
        time_embedding = new TimestepEmbedding(boc[0], timeEmbedDim, config.ActFn);
        if (config.AdditionEmbedType == "text_time")
        {
            add_time_proj = new Timesteps(config.AdditionTimeEmbedDim!.Value, config.FlipSinToCos, config.FreqShift, "add_time_proj");
            add_embedding = new TimestepEmbedding(config.ProjectionClassEmbeddingsInputDim!.Value, timeEmbedDim, config.ActFn, "add_embedding");
        }

        UNetBlockOptions Options(int numLayers, int transformerLayers, long inCh, long outCh, long prevOut, bool resample, int blockIndex) =>
            UNetEncoderBlocks.Options(config, timeEmbedDim, numLayers, transformerLayers, inCh, outCh, prevOut, resample, blockIndex);

        down_blocks = UNetEncoderBlocks.DownBlocks(config, timeEmbedDim);
        mid_block = UNetEncoderBlocks.MidBlock(config, timeEmbedDim);

        var ups = new List<UNetUpBlock>();
        long outputChannel = boc[n - 1];
        for (var i = 0; i < n; i++)
        {
            var reversedIndex = n - 1 - i; // per-block config values are read in reverse
            var prevOutputChannel = outputChannel;
            outputChannel = boc[reversedIndex];
            long inputChannel = boc[Math.Max(reversedIndex - 1, 0)];
            var addUpsample = i < n - 1;
            if (addUpsample)
                _numUpsamplers++;
            var o = Options(config.LayersPerBlock.For(reversedIndex, n) + 1, config.TransformerLayersPerBlock.For(reversedIndex, n),
                inputChannel, outputChannel, prevOutputChannel, addUpsample, reversedIndex);
            ups.Add(config.UpBlockTypes[i] switch
            {
                "CrossAttnUpBlock2D" => new CrossAttnUpBlock2D(o),
                "UpBlock2D" => new UpBlock2D(o),
                var t => throw new NotSupportedException($"Up block type '{t}' is not supported."),
            });
        }
        up_blocks = new ModuleList<UNetUpBlock>(ups.ToArray());

        conv_norm_out = Layers.GroupNorm(groups, boc[0], config.NormEps);
        _convAct = Layers.Activation(config.ActFn);
        conv_out = Layers.Conv2d(boc[0], config.OutChannels, config.ConvOutKernel, padding: (config.ConvOutKernel - 1) / 2);
        if (config.IsGated)
        {
            // diffusers sizes the phrase features by cross_attention_dim when it is one number, else 768.
            var crossDim = config.CrossAttentionDim.Single ?? 768;
            position_net = new GligenTextBoundingboxProjection(crossDim, crossDim, config.AttentionType == "gated-text-image");
        }
        RegisterComponents();

        foreach (var (name, module) in named_modules())
        {
            if (module is Attention attention)
                attention.Name = name;
        }
    }

    public UNet2DConditionConfig Config { get; }

    /// <summary>Every attention module with its path (e.g. up_blocks.1.attentions.0.transformer_blocks.0.attn2).</summary>
    public IEnumerable<Attention> AttentionModules() => modules().OfType<Attention>();

    /// <summary>Sets the processor of every attention module; <paramref name="choose"/> sees each module (and its Name).</summary>
    public void SetAttentionProcessor(Func<Attention, IAttentionProcessor> choose)
    {
        foreach (var attention in AttentionModules())
            attention.Processor = choose(attention);
    }

    /// <summary>
    /// Reads unet/config.json, builds the model on the CPU, loads the weights strictly and moves it to
    /// <paramref name="device"/>/<paramref name="dtype"/> in eval mode.
    /// </summary>
    public static UNet2DConditionModel FromPretrained(string componentFolder, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        var config = UNet2DConditionConfig.Load(componentFolder);
        using var weights = SafeTensorsWeightSource.OpenFolder(componentFolder, "unet");
        return FromWeights(config, weights, device, dtype);
    }

    /// <summary>
    /// Builds the model from <paramref name="config"/> on the CPU, loads <paramref name="weights"/> strictly (a diffusers
    /// folder or a converted single-file checkpoint) and moves it to <paramref name="device"/>/<paramref name="dtype"/> in eval mode.
    /// </summary>
    public static UNet2DConditionModel FromWeights(UNet2DConditionConfig config, IWeightSource weights, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        return WeightLoader.LoadNew(new UNet2DConditionModel(config), weights, device, dtype);
    }

    /// <summary>Noise prediction without extra conditioning.</summary>
    public override Tensor forward(Tensor sample, Tensor timestep, Tensor encoderHiddenStates) =>
        forward(sample, timestep, encoderHiddenStates, null);

    /// <summary>Predicts noise (or v) for <paramref name="sample"/>.</summary>
    /// <param name="sample">(B, in_channels, H, W) latents.</param>
    /// <param name="timestep">0-d or (B) timesteps, integer or float; a 0-d value is broadcast to the batch.</param>
    /// <param name="encoderHiddenStates">(B, M, cross_attention_dim) text states.</param>
    /// <param name="conditioning">ControlNet/T2I-Adapter residuals and SDXL added conditions, or null.</param>
    /// <param name="observe">Optional debug callback receiving intermediate tensors (time_proj, time_embedding,
    /// add_embedding, conv_in, down_blocks.i, mid_block, up_blocks.i); the tensors live only during the call.</param>
    /// <returns>(B, out_channels, H, W)</returns>
    public Tensor forward(Tensor sample, Tensor timestep, Tensor encoderHiddenStates, UNetConditioning? conditioning,
        Action<string, Tensor>? observe = null)
    {
        using var scope = torch.NewDisposeScope();
        var ehs = encoderHiddenStates;
        var attentionContext = conditioning?.Attention;
        if (attentionContext?.Get<GligenGroundingInput>() is { } grounding)
        {
            if (position_net is null)
                throw new ArgumentException("Grounding needs a GLIGEN UNet (attention_type gated or gated-text-image); this UNet has none.", nameof(conditioning));
            attentionContext = attentionContext.With(new GligenGroundingTokens(position_net.call(grounding), grounding.Beta));
        }

        // A total upsampling factor that does not divide the size needs explicit upsample sizes.
        var overallUpFactor = 1L << _numUpsamplers;
        var forwardUpsampleSize = sample.shape[^2..].Any(s => s % overallUpFactor != 0);

        if (Config.CenterInputSample)
            sample = 2 * sample - 1.0;

        // 1. time
        var emb = UNetEncoderBlocks.TimeEmbedding(time_proj, time_embedding, add_time_proj, add_embedding, timestep, sample, conditioning?.Added, observe);

        // 2. pre-process
        sample = conv_in.call(sample); // (B, C0, H, W)
        observe?.Invoke("conv_in", sample);

        // 3. down
        var control = conditioning?.Control;
        var adapter = conditioning?.DownIntrablockResiduals is { } a ? new Queue<Tensor>(a.Select(r => r.to(sample.dtype, sample.device))) : null;
        var resSamples = new List<Tensor> { sample };
        for (var i = 0; i < down_blocks.Count; i++)
        {
            var block = down_blocks[i];
            Tensor? intrablock = block.HasCrossAttention && adapter is { Count: > 0 } ? adapter.Dequeue() : null;
            var output = block.call(new DownBlockInput(sample, emb, ehs, intrablock, attentionContext));
            sample = output.Hidden; // (B, Ci, H/2^k, W/2^k)
            var blockRes = output.ResSamples.ToList();
            if (!block.HasCrossAttention && adapter is { Count: > 0 })
            {
                // diffusers adds in place, so the block's last skip connection (the same tensor) gets it too.
                sample = sample + adapter.Dequeue();
                blockRes[^1] = sample;
            }
            resSamples.AddRange(blockRes);
            observe?.Invoke($"down_blocks.{i}", sample);
        }
        if (control is not null)
        {
            if (control.DownBlockResiduals.Count != resSamples.Count)
                throw new ArgumentException($"ControlNet gave {control.DownBlockResiduals.Count} down residuals; this UNet has {resSamples.Count} skip connections.", nameof(conditioning));
            resSamples = resSamples.Zip(control.DownBlockResiduals, (r, c) => r + c.to(r.dtype, r.device)).ToList();
        }

        // 4. mid
        if (mid_block is not null)
        {
            sample = mid_block.forward(sample, emb, ehs, attentionContext); // (B, Cn, h, w)
            observe?.Invoke("mid_block", sample);
            if (adapter is { Count: > 0 } && adapter.Peek().shape.SequenceEqual(sample.shape))
                sample = sample + adapter.Dequeue();
        }
        if (control is not null)
            sample = sample + control.MidBlockResidual.to(sample.dtype, sample.device);

        // 5. up
        for (var i = 0; i < up_blocks.Count; i++)
        {
            var block = up_blocks[i];
            var take = block.NumResnets;
            var blockRes = resSamples.GetRange(resSamples.Count - take, take);
            resSamples.RemoveRange(resSamples.Count - take, take);
            long[]? upsampleSize = i < up_blocks.Count - 1 && forwardUpsampleSize ? resSamples[^1].shape[2..] : null;
            sample = block.call(new UpBlockInput(sample, emb, blockRes, ehs, upsampleSize, attentionContext)); // (B, Ci, H', W')
            observe?.Invoke($"up_blocks.{i}", sample);
        }

        // 6. post-process
        sample = _convAct(conv_norm_out.call(sample)); // (B, C0, H, W)
        sample = conv_out.call(sample); // (B, out_channels, H, W)
        return sample.MoveToOuterDisposeScope();
    }
}
