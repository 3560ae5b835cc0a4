using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Models;

/// <summary>
/// torch.nn.Linear's and Conv2d's default initialisation — weight and bias U(−1/√fan_in, 1/√fan_in), the Kaiming-uniform
/// with a = √5 — drawn from a caller's generator. Layers draw from torch's process-wide generator when they are built, and
/// any other work on the process that draws from it meanwhile moves a run seeded there; a training run that must repeat
/// bit for bit draws its fresh layers here instead.
/// </summary>
public static class SeededInitialization
{
    /// <summary>U(−1/√fan_in, 1/√fan_in) of <paramref name="shape"/>, fan_in being the product of all but the first dimension.</summary>
    public static Tensor DefaultUniform(long[] shape, Generator generator) =>
        Uniform(shape, 1 / Math.Sqrt(shape.Skip(1).Aggregate(1L, (a, b) => a * b)), generator);

    /// <summary>Draws every Linear and Conv2d layer of <paramref name="module"/> again, in the order of its modules.</summary>
    public static void Redraw(nn.Module module, Generator generator)
    {
        using var noGrad = torch.no_grad();
        foreach (var layer in module.modules().OfType<LoraLayer>())
        {
            using var scope = torch.NewDisposeScope();
            var shape = layer.Weight.shape;
            var bound = 1 / Math.Sqrt(shape.Skip(1).Aggregate(1L, (a, b) => a * b));
            layer.Weight.copy_(Uniform(shape, bound, generator));
            layer.Bias?.copy_(Uniform(layer.Bias.shape, bound, generator));
        }
    }

    private static Tensor Uniform(long[] shape, double bound, Generator generator) =>
        torch.rand(shape, dtype: ScalarType.Float32, generator: generator) * (2 * bound) - bound;
}
