using Easel.Inference.Loading;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Control.T2IAdapter;

/// <summary>
/// diffusers' T2IAdapter (Mou et al. 2023): a small conv net that turns a condition image (sketch, depth, pose, …) into
/// multi-scale features F_c = F_AD(C) which the frozen UNet adds to its encoder features, F_enc^i + F_c^i (eq. 4; the UNet's
/// down_intrablock_additional_residuals). The body is a <see cref="FullAdapter"/> (full_adapter, full_adapter_xl) or a
/// <see cref="LightAdapter"/>, under the checkpoint prefix "adapter.".
/// </summary>
public sealed class T2IAdapterModel : nn.Module<Tensor, IReadOnlyList<Tensor>>
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly nn.Module<Tensor, IReadOnlyList<Tensor>> adapter;
#pragma warning restore IDE1006

    public T2IAdapterModel(T2IAdapterConfig config) : base(nameof(T2IAdapterModel))
    {
        config.Validate();
        Config = config;
        adapter = config.AdapterType == "light_adapter" ? new LightAdapter(config) : new FullAdapter(config);
        RegisterComponents();
    }

    public T2IAdapterConfig Config { get; }

    /// <summary>The dtype of the weights (inputs are cast to it).</summary>
    public ScalarType DType => parameters().First().dtype;

    /// <summary>The device of the weights.</summary>
    public Device Device => parameters().First().device;

    /// <summary>
    /// Reads the adapter folder's config.json, builds the model on the CPU, loads the weights strictly and moves it to
    /// <paramref name="device"/>/<paramref name="dtype"/> in eval mode.
    /// </summary>
    public static T2IAdapterModel FromPretrained(string folder, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        var config = T2IAdapterConfig.Load(folder);
        using var weights = SafeTensorsWeightSource.OpenFolder(folder, "t2i_adapter");
        return WeightLoader.LoadNew(new T2IAdapterModel(config), weights, device, dtype);
    }

    /// <summary>
    /// (B, in_channels, H, W) condition image in [0, 1], H and W multiples of downscale_factor → the features, finest first
    /// (coarsest last), for the UNet's down blocks in order.
    /// </summary>
    public override IReadOnlyList<Tensor> forward(Tensor image)
    {
        if (image.dim() != 4 || image.shape[1] != Config.InChannels)
            throw new ArgumentException($"A T2I-Adapter image must be (B, {Config.InChannels}, H, W); got ({string.Join(", ", image.shape)}).", nameof(image));
        if (image.shape[2] % Config.DownscaleFactor != 0 || image.shape[3] % Config.DownscaleFactor != 0)
            throw new ArgumentException(
                $"A T2I-Adapter image's height and width must be multiples of its downscale_factor {Config.DownscaleFactor}; got {image.shape[2]}×{image.shape[3]}.", nameof(image));
        return adapter.call(image);
    }
}
