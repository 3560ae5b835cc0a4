using Easel.Inference.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Editing.BlendedLatentDiffusion;

/// <summary>
/// Puts the input's pixels back outside the edited region: out = f ⊙ edit + (1 − f) ⊙ x, with f the edited region (the
/// mask and its latent cells) feathered outward over <c>radius</c> pixels by a linear ramp. Where f = 0 — everything
/// farther than the radius from the region — the output's pixels are the input's bytes.
/// </summary>
public static class PixelBlend
{
    /// <param name="region">(1, 1, H, W) float32, 1 = edited.</param>
    public static Tensor Feathered(Tensor region, int radius)
    {
        using var scope = torch.NewDisposeScope();
        var sum = region.clone();
        for (var k = 1; k <= radius; k++)
            sum += nn.functional.max_pool2d(region, 2 * k + 1, 1, k);
        return (sum / (radius + 1)).MoveToOuterDisposeScope();
    }

    /// <param name="feather">(1, 1, H, W) float32 in [0, 1], from <see cref="Feathered"/>.</param>
    public static IReadOnlyList<GeneratedImage> Apply(IReadOnlyList<GeneratedImage> edits, InputImage input, Tensor feather)
    {
        using var scope = torch.NewDisposeScope();
        var weights = feather.to(CPU).reshape(-1).data<float>().ToArray(); // H·W
        var original = input.ToRgbBytes();
        return [.. edits.Select(edit =>
        {
            var rgb = new byte[edit.Rgb.Length];
            for (var i = 0; i < rgb.Length; i++)
            {
                var f = weights[i / 3];
                rgb[i] = f <= 0 ? original[i] : (byte)Math.Clamp(Math.Round(f * edit.Rgb[i] + (1 - f) * original[i]), 0, 255);
            }
            return new GeneratedImage(edit.Width, edit.Height, rgb);
        })];
    }
}
