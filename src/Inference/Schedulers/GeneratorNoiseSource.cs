using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Schedulers;

/// <summary>
/// Noise from an explicit torch generator, drawn like diffusers' randn_tensor: on the generator's
/// device (CPU by default, so a seed gives the same noise on every device), then moved.
/// </summary>
public sealed class GeneratorNoiseSource : INoiseSource
{
    public GeneratorNoiseSource(Generator generator) => Generator = generator;

    public Generator Generator { get; }

    /// <summary>A CPU generator seeded with <paramref name="seed"/>.</summary>
    public static GeneratorNoiseSource FromSeed(long seed) => new(new Generator((ulong)seed, CPU));

    public Tensor Next(long[] shape, ScalarType dtype, Device device)
    {
        var noise = torch.randn(shape, dtype: dtype, device: Generator.device, generator: Generator);
        return noise.device == device ? noise : noise.to(device);
    }
}
