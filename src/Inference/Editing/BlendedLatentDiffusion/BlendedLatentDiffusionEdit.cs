using Easel.Inference.Imaging;
using Easel.Inference.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Editing.BlendedLatentDiffusion;

/// <summary>
/// Blended Latent Diffusion (Avrahami, Fried, Lischinski 2023) on an ordinary 4-channel model: the region under the mask
/// is generated under the prompt while, at every step, the rest of the latents is the input's, noised to that step
/// (<see cref="BlendedLatents"/>); x̂ = D(z_0); then the background is treated as asked (<see cref="BackgroundTreatment"/>).
/// </summary>
/// <param name="Request">The image, the mask (white = edit), the prompt and the sampling settings; <c>Strength</c> is where in
/// the schedule the edit starts (1 = from pure noise inside the mask).</param>
/// <param name="Background">What happens outside the mask after decoding.</param>
/// <param name="Decoder">The decoder fine-tune's settings, for <see cref="BackgroundTreatment.DecoderOptimization"/>.</param>
public sealed record BlendedLatentDiffusionEdit(InpaintRequest Request, BackgroundTreatment Background, DecoderOptimization? Decoder = null)
{
    /// <summary>Pixels of the linear feather of <see cref="PixelBlend"/>, in latent cells: one cell on each side of the edited region.</summary>
    public const int FeatherCells = 1;

    public IReadOnlyList<GeneratedImage> Run(StableDiffusionPipeline pipeline, IProgress<DenoisingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        if (pipeline.IsInpaintingModel)
            throw new NotSupportedException($"'{pipeline.Folder}' has an inpainting UNet; Blended Latent Diffusion runs on a model with a 4-channel UNet.");
        var request = Request with { Extensions = [.. Request.Extensions, new BlendedLatents(Request.Image, Request.Mask, Request.Strength)] };
        pipeline.Validate(request);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        using var scheduler = pipeline.CreateScheduler(request);
        var latents = pipeline.GenerateLatents(request, scheduler, StableDiffusionPipeline.CreateNoiseSource(request), null, progress, cancellationToken);
        var region = EditedRegion(pipeline.VaeScaleFactor);
        if (Background == BackgroundTreatment.DecoderOptimization)
            return ImageTensors.ToImages((Decoder ?? new DecoderOptimization()).Decode(pipeline, latents, Request.Image, region, cancellationToken));
        var images = ImageTensors.ToImages(pipeline.DecodeFor(request, latents));
        return Background == BackgroundTreatment.PixelBlend
            ? PixelBlend.Apply(images, Request.Image, PixelBlend.Feathered(region, FeatherCells * pipeline.VaeScaleFactor))
            : images;
    }

    /// <summary>(1, 1, H, W) float32: the mask's pixels and the latent cells the edit regenerated (1 = edited).</summary>
    public Tensor EditedRegion(int factor)
    {
        using var scope = torch.NewDisposeScope();
        var repaint = Request.Mask.ToGrayTensor(CPU) >= 0.5;
        var cells = BlendedLatents.LatentMask(repaint, factor);
        var upsampled = nn.functional.interpolate(cells, [Request.Mask.Height, Request.Mask.Width], mode: InterpolationMode.Nearest);
        return torch.maximum(repaint.to(float32), upsampled).MoveToOuterDisposeScope();
    }
}
