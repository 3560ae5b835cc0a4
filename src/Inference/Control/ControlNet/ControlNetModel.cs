using Easel.Inference.Loading;
using Easel.Inference.Models;
using Easel.Inference.Models.UNet;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Control.ControlNet;

/// <summary>
/// diffusers' ControlNetModel (Zhang et al. 2023): a trainable copy of the UNet's contracting half whose input is the
/// latent plus the encoded control image, y_c = F(x; Θ) + Z(F(x + Z(c; Θ_z1); Θ_c); Θ_z2) (eq. 2); the zero convolutions Z
/// (controlnet_down_blocks, controlnet_mid_block) turn each skip connection and the mid block into residuals that the
/// frozen UNet adds to its own. Parameter names equal the diffusers checkpoint keys (SD 1.x, 2.x and SDXL layouts).
/// </summary>
public sealed class ControlNetModel : nn.Module<ControlNetInput, ControlResiduals>
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly LoraConv2d conv_in;
    private readonly Timesteps time_proj;
    private readonly TimestepEmbedding time_embedding;
    private readonly Timesteps? add_time_proj;
    private readonly TimestepEmbedding? add_embedding;
    private readonly ControlNetConditioningEmbedding controlnet_cond_embedding;
    private readonly ModuleList<UNetDownBlock> down_blocks;
    private readonly ModuleList<LoraConv2d> controlnet_down_blocks;
    private readonly UNetMidBlock2DCrossAttn? mid_block;
    private readonly LoraConv2d controlnet_mid_block;
#pragma warning restore IDE1006

    public ControlNetModel(ControlNetConfig config) : base(nameof(ControlNetModel))
    {
        var encoder = config.EncoderConfig();
        encoder.Validate();
        Config = config;
        var boc = config.BlockOutChannels;
        var n = boc.Count;
        var timeEmbedDim = boc[0] * 4L;

        conv_in = Layers.Conv2d(config.InChannels, boc[0], 3, padding: 1);
        time_proj = new Timesteps(boc[0], config.FlipSinToCos, config.FreqShift);
        time_embedding = new TimestepEmbedding(boc[0], timeEmbedDim, config.ActFn);
        if (config.AdditionEmbedType == "text_time")
        {
            add_time_proj = new Timesteps(config.AdditionTimeEmbedDim!.Value, config.FlipSinToCos, config.FreqShift, "add_time_proj");
            add_embedding = new TimestepEmbedding(config.ProjectionClassEmbeddingsInputDim!.Value, timeEmbedDim, config.ActFn, "add_embedding");
        }
        controlnet_cond_embedding = new ControlNetConditioningEmbedding(boc[0], config.ConditioningChannels, config.ConditioningEmbeddingOutChannels);
        down_blocks = UNetEncoderBlocks.DownBlocks(encoder, timeEmbedDim);
        mid_block = UNetEncoderBlocks.MidBlock(encoder, timeEmbedDim);

        // One zero conv per skip connection, in the UNet's order: conv_in, each block's resnets, its downsampler.
        var zeroConvs = new List<LoraConv2d> { Layers.Conv2d(boc[0], boc[0], 1) };
        for (var i = 0; i < n; i++)
        {
            var skips = config.LayersPerBlock.For(i, n) + (i < n - 1 ? 1 : 0);
            for (var k = 0; k < skips; k++)
                zeroConvs.Add(Layers.Conv2d(boc[i], boc[i], 1));
        }
        controlnet_down_blocks = new ModuleList<LoraConv2d>(zeroConvs.ToArray());
        controlnet_mid_block = Layers.Conv2d(boc[^1], boc[^1], 1);
        RegisterComponents();

        foreach (var (name, module) in named_modules())
        {
            if (module is Attention attention)
                attention.Name = name;
        }
    }

    public ControlNetConfig Config { get; }

    /// <summary>The dtype of the weights (inputs are cast to it).</summary>
    public ScalarType DType => conv_in.Weight.dtype;

    /// <summary>The device of the weights.</summary>
    public Device Device => conv_in.Weight.device;

    /// <summary>How many down residuals a call returns (the UNet's skip connections).</summary>
    public int DownResidualCount => (int)controlnet_down_blocks.Count;

    /// <summary>Reads config.json, builds the model on the CPU, loads the weights strictly and moves it to <paramref name="device"/>/<paramref name="dtype"/>.</summary>
    public static ControlNetModel FromPretrained(string folder, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        var config = ControlNetConfig.Load(folder);
        using var weights = SafeTensorsWeightSource.OpenFolder(folder, "controlnet");
        return WeightLoader.LoadNew(new ControlNetModel(config), weights, device, dtype);
    }

    /// <summary>
    /// A ControlNet to train for <paramref name="unet"/> (diffusers' ControlNetModel.from_unet; Zhang et al. 2023, §3.1):
    /// the encoder — conv_in, time embedding, down blocks, mid block — is a copy of the UNet's weights, and every zero
    /// convolution and the conditioning embedding's conv_out start at zero, so until training moves them the residuals are
    /// zero and the UNet is unchanged. <paramref name="config"/> is a ControlNet config of the UNet's layout (its
    /// config.json read as <see cref="ControlNetConfig"/>); the conditioning embedding's other layers are drawn from
    /// <paramref name="initialization"/>.
    /// </summary>
    public static ControlNetModel FromUNet(UNet2DConditionModel unet, ControlNetConfig config, Generator initialization)
    {
        var model = new ControlNetModel(config);
        try
        {
            SeededInitialization.Redraw(model.controlnet_cond_embedding, initialization);
            using var noGrad = torch.no_grad();
            var source = unet.state_dict();
            foreach (var (name, parameter) in model.named_parameters())
            {
                if (name.StartsWith("controlnet_down_blocks.", StringComparison.Ordinal) || name.StartsWith("controlnet_mid_block.", StringComparison.Ordinal)
                    || name.StartsWith("controlnet_cond_embedding.conv_out.", StringComparison.Ordinal))
                    parameter.zero_();
                else if (source.TryGetValue(name, out var weight) && weight.shape.SequenceEqual(parameter.shape))
                    parameter.copy_(weight);
                else if (!name.StartsWith("controlnet_cond_embedding.", StringComparison.Ordinal))
                    throw new ArgumentException($"The UNet has no parameter '{name}' of shape ({string.Join(", ", parameter.shape)}): the config is not the UNet's layout.", nameof(config));
            }
            model.to(unet.parameters().First().dtype).to(unet.parameters().First().device);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The residuals for the UNet's skip connections and mid block, already scaled.</summary>
    public override ControlResiduals forward(ControlNetInput input) => forward(input, null);

    /// <param name="observe">Optional debug callback (controlnet_cond_embedding); the tensors live only during the call.</param>
    public ControlResiduals forward(ControlNetInput input, Action<string, Tensor>? observe)
    {
        using var scope = torch.NewDisposeScope();
        var sample = input.Sample;
        var cond = input.ControlnetCond.to(sample.dtype, sample.device);
        if (Config.WantsBgr)
            cond = cond.flip(1);
        var ehs = input.EncoderHiddenStates;
        var emb = UNetEncoderBlocks.TimeEmbedding(time_proj, time_embedding, add_time_proj, add_embedding, input.Timestep, sample, input.Added);

        var embeddedCond = controlnet_cond_embedding.call(cond); // (B, C0, h, w)
        observe?.Invoke("controlnet_cond_embedding", embeddedCond);
        sample = conv_in.call(sample);
        if (!embeddedCond.shape[2..].SequenceEqual(sample.shape[2..]))
            throw new ArgumentException(
                $"The control image ({cond.shape[2]}×{cond.shape[3]}) gives a {embeddedCond.shape[2]}×{embeddedCond.shape[3]} map, the latents are " +
                $"{sample.shape[2]}×{sample.shape[3]}: the control image must have the output size.", nameof(input));
        sample = sample + embeddedCond;

        var skips = new List<Tensor> { sample };
        foreach (var block in down_blocks)
        {
            var output = block.call(new DownBlockInput(sample, emb, ehs, null, input.Attention));
            sample = output.Hidden;
            skips.AddRange(output.ResSamples);
        }
        if (mid_block is not null)
            sample = mid_block.forward(sample, emb, ehs, input.Attention);

        var down = skips.Select((s, i) => controlnet_down_blocks[i].call(s)).ToList();
        var mid = controlnet_mid_block.call(sample);

        if (input.GuessMode && !Config.GlobalPoolConditions)
        {
            // Guess mode: 0.1 at the shallowest skip up to 1.0 at the mid block, evenly spaced in log scale.
            var scales = torch.logspace(-1, 0, down.Count + 1, device: sample.device) * input.ConditioningScale;
            down = down.Select((r, i) => r * scales[i]).ToList();
            mid = mid * scales[-1];
        }
        else
        {
            down = down.Select(r => r * input.ConditioningScale).ToList();
            mid = mid * input.ConditioningScale;
        }
        if (Config.GlobalPoolConditions)
        {
            down = down.Select(r => r.mean([2, 3], keepdim: true)).ToList();
            mid = mid.mean([2, 3], keepdim: true);
        }
        foreach (var r in down)
            r.MoveToOuterDisposeScope();
        return new ControlResiduals(down, mid.MoveToOuterDisposeScope());
    }
}
