using static TorchSharp.torch;

namespace Easel.Inference.Schedulers;

/// <summary>
/// Where the pipeline and the stochastic scheduler steps get their Gaussian noise (diffusers' randn_tensor). Never the
/// global RNG: a request owns a <see cref="GeneratorNoiseSource"/> (one generator for the batch, diffusers' order) or a
/// <see cref="PerImageNoiseSource"/> (one generator per image); parity tests replay the fixtures' rng tape with
/// <see cref="TapeNoiseSource"/>. Shapes are batch first.
/// </summary>
public interface INoiseSource
{
    /// <summary>The next standard-normal tensor of <paramref name="shape"/>.</summary>
    Tensor Next(long[] shape, ScalarType dtype, Device device);

    /// <summary>
    /// Noise for a sample that diffusers draws once and repeats over a batch of <paramref name="count"/> (the posterior
    /// sample of the one input image): one draw of <paramref name="shape"/> (batch 1) repeated along the batch. A source
    /// with a generator per image draws each image's own instead.
    /// </summary>
    Tensor NextRepeated(long[] shape, int count, ScalarType dtype, Device device) =>
        Next(shape, dtype, device).repeat([count, .. Enumerable.Repeat(1L, shape.Length - 1)]);
}
