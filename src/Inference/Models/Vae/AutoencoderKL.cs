using Easel.Inference.Loading;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Models.Vae;

/// <summary>
/// diffusers' AutoencoderKL: <see cref="Encode"/> an image in [-1, 1] to a Gaussian posterior over latents,
/// <see cref="Decode"/> latents back to an image. Scaling by <see cref="AutoencoderKLConfig.ScalingFactor"/>
/// is left to the caller (pipelines), as in diffusers.
/// </summary>
public sealed class AutoencoderKL : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly Encoder encoder;
    private readonly Decoder decoder;
    private readonly Conv2d? quant_conv;
    private readonly Conv2d? post_quant_conv;
#pragma warning restore IDE1006

    public AutoencoderKL(AutoencoderKLConfig config) : base(nameof(AutoencoderKL))
    {
        config.Validate();
        Config = config;
        encoder = new Encoder(config);
        decoder = new Decoder(config);
        if (config.UseQuantConv)
            quant_conv = Layers.Conv2d(2 * config.LatentChannels, 2 * config.LatentChannels, 1);
        if (config.UsePostQuantConv)
            post_quant_conv = Layers.Conv2d(config.LatentChannels, config.LatentChannels, 1);
        RegisterComponents();
    }

    public AutoencoderKLConfig Config { get; }
    public Encoder Encoder => encoder;
    public Decoder Decoder => decoder;

    /// <summary>
    /// Loads a VAE from its component folder (vae/) or from a model root that contains vae/: reads config.json,
    /// builds on the CPU, loads strictly, moves to <paramref name="device"/>/<paramref name="dtype"/>, eval mode.
    /// </summary>
    public static AutoencoderKL FromPretrained(string componentFolder, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        if (!File.Exists(Path.Combine(componentFolder, "config.json")) && Directory.Exists(Path.Combine(componentFolder, "vae")))
            componentFolder = Path.Combine(componentFolder, "vae");
        var config = AutoencoderKLConfig.Load(componentFolder);
        using var weights = SafeTensorsWeightSource.OpenFolder(componentFolder, "vae");
        return FromWeights(config, weights, device, dtype);
    }

    /// <summary>
    /// Builds the VAE from <paramref name="config"/> on the CPU, loads <paramref name="weights"/> strictly (a diffusers
    /// folder or a converted single-file checkpoint) and moves it to <paramref name="device"/>/<paramref name="dtype"/> in eval mode.
    /// </summary>
    public static AutoencoderKL FromWeights(AutoencoderKLConfig config, IWeightSource weights, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        var model = new AutoencoderKL(config);
        try
        {
            WeightLoader.LoadInto(model, weights);
            WeightLoader.Finish(model, device, dtype);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Encodes (B, in_channels, H, W) in [-1, 1] to the latent posterior (the caller disposes it).</summary>
    public DiagonalGaussianDistribution Encode(Tensor image)
    {
        using var scope = torch.NewDisposeScope();
        var h = encoder.call(image); // (B, 2·latent, h, w)
        var moments = quant_conv is null ? h : quant_conv.call(h); // (B, 2·latent, h, w)
        return new DiagonalGaussianDistribution(moments); // takes the moments out of every dispose scope
    }

    /// <summary>Decodes unscaled latents (B, latent_channels, h, w) to (B, out_channels, H, W), not clamped.</summary>
    public Tensor Decode(Tensor latents)
    {
        using var scope = torch.NewDisposeScope();
        var z = post_quant_conv is null ? latents : post_quant_conv.call(latents); // (B, latent, h, w)
        return decoder.call(z).MoveToOuterDisposeScope(); // (B, out_channels, H, W)
    }

    /// <summary>Reconstruction through the posterior mode, as diffusers' forward with sample_posterior=False.</summary>
    public override Tensor forward(Tensor image)
    {
        using var posterior = Encode(image);
        return Decode(posterior.Mean);
    }
}
