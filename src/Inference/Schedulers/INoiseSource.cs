using static TorchSharp.torch;

namespace Easel.Inference.Schedulers;

/// <summary>
/// Where a stochastic scheduler step gets its Gaussian noise (diffusers' randn_tensor). Never the
/// global RNG: a request owns a <see cref="GeneratorNoiseSource"/>; parity tests replay the
/// fixtures' rng tape with <see cref="TapeNoiseSource"/>.
/// </summary>
public interface INoiseSource
{
    /// <summary>The next standard-normal tensor of <paramref name="shape"/>.</summary>
    Tensor Next(long[] shape, ScalarType dtype, Device device);
}
