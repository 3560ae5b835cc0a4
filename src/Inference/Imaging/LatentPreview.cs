using Easel.Inference.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Imaging;

/// <summary>
/// A cheap look at the latents during denoising: a per-pixel linear map from latent channels to RGB, no VAE call.
/// The factors are the well-known fits of the SD 1.x/2.x VAE (scaling factor 0.18215) and of the SDXL VAE (0.13025),
/// as A1111 and ComfyUI use them for their previews. A VAE these factors were not fitted to (another latent channel
/// count, or a 4-channel VAE with another scaling factor, such as the bundled easel-shapes model) gets the first three
/// channels, each stretched to [0, 1] by its own range: it shows where structure forms, not true colours.
/// </summary>
public static class LatentPreview
{
    private const double Sd15ScalingFactor = 0.18215;
    private const double SdxlScalingFactor = 0.13025;

    // Rows: latent channels; columns: R, G, B. Applied to the scaled latents the UNet sees, giving roughly [-1, 1].
    private static readonly float[] Sd15Factors =
    [
        0.3512f, 0.2297f, 0.3227f,
        0.3250f, 0.4974f, 0.2350f,
        -0.2829f, 0.1762f, 0.2721f,
        -0.2120f, -0.2616f, -0.7177f,
    ];

    private static readonly float[] SdxlFactors =
    [
        0.3651f, 0.4232f, 0.4341f,
        -0.2533f, -0.0042f, 0.1068f,
        0.1076f, 0.1111f, -0.0362f,
        -0.3165f, -0.2492f, -0.2188f,
    ];

    private static readonly float[] SdxlBias = [0.1084f, -0.0175f, -0.0011f];

    /// <summary>Which projection <see cref="ToImage"/> uses for latents of this model.</summary>
    public static string ProjectionOf(LatentFormat format) => format switch
    {
        { Channels: 4, Family: "sd15" or "sd2" } when Math.Abs(format.ScalingFactor - Sd15ScalingFactor) < 1e-4 => "sd15",
        { Channels: 4, Family: "sdxl" } when Math.Abs(format.ScalingFactor - SdxlScalingFactor) < 1e-4 => "sdxl",
        _ => "normalized",
    };

    /// <summary>
    /// The first image of a latent batch (N, C, h, w) as an 8-bit RGB image of h × w pixels (one pixel per latent cell).
    /// Pure: reads <paramref name="latents"/>, keeps no tensor.
    /// </summary>
    public static GeneratedImage ToImage(Tensor latents, LatentFormat format)
    {
        ArgumentNullException.ThrowIfNull(latents);
        if (latents.dim() != 4)
            throw new ArgumentException($"Latents must be (N, C, h, w); got {latents.dim()} dimensions.", nameof(latents));
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var z = latents[0].to(float32).cpu(); // (C, h, w)
        var channels = (int)z.shape[0];
        Tensor unit;
        switch (ProjectionOf(format with { Channels = channels }))
        {
            case "sd15":
                unit = (Project(z, Sd15Factors, null) + 1) / 2;
                break;
            case "sdxl":
                unit = (Project(z, SdxlFactors, SdxlBias) + 1) / 2;
                break;
            default:
                var first = z[..Math.Min(3, channels)];
                if (channels < 3)
                    first = torch.cat([first, first[^1..].expand(3 - channels, -1, -1)], 0);
                var low = first.amin([1, 2], keepdim: true);
                var high = first.amax([1, 2], keepdim: true);
                unit = (first - low) / (high - low).clamp_min(1e-6);
                break;
        }
        var bytes = (unit.clamp(0, 1) * 255).round().to(ScalarType.Byte).permute(1, 2, 0).contiguous(); // (h, w, 3)
        return new GeneratedImage((int)bytes.shape[1], (int)bytes.shape[0], bytes.data<byte>().ToArray());
    }

    private static Tensor Project(Tensor z, float[] factors, float[]? bias)
    {
        var weights = torch.tensor(factors, [4, 3]); // (C, 3)
        var rgb = torch.einsum("chw,cr->rhw", z, weights);
        return bias is null ? rgb : rgb + torch.tensor(bias, [3, 1, 1]);
    }
}

/// <summary>What a preview needs to know about a model's latents: the family, the latent channel count and the VAE's scaling factor.</summary>
public sealed record LatentFormat(string Family, int Channels, double ScalingFactor);
