using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Parity;

/// <summary>The per-kind tolerances of the fixture README: |actual - golden| ≤ atol + rtol·|golden|.</summary>
public sealed record Tolerance(double Atol, double Rtol)
{
    private static readonly Dictionary<string, Tolerance> ByKind = new()
    {
        ["attend_excite"] = new(1e-4, 1e-3),
        ["controlnet"] = new(1e-4, 1e-4),
        ["lora"] = new(1e-4, 1e-4),
        ["pipeline"] = new(2e-3, 2e-3),
        ["scheduler"] = new(1e-4, 1e-5),
        ["t2i_adapter"] = new(1e-4, 1e-4),
        ["text_encoder"] = new(5e-5, 1e-5),
        ["textual_inversion"] = new(5e-5, 1e-5),
        ["tokenizer"] = new(0, 0),
        ["unet"] = new(1e-4, 1e-4),
        ["vae"] = new(1e-4, 1e-4),
    };

    public static Tolerance For(string kind) =>
        ByKind.TryGetValue(kind, out var t) ? t : throw new InvalidOperationException($"No tolerance is known for kind '{kind}'.");

    /// <summary>Asserts elementwise closeness and reports the worst element when it fails.</summary>
    public void AssertClose(Tensor golden, Tensor actual, string what)
    {
        Assert.True(golden.shape.SequenceEqual(actual.shape),
            $"{what}: shape [{string.Join(", ", actual.shape)}] differs from golden [{string.Join(", ", golden.shape)}]");
        using var scope = torch.NewDisposeScope();
        var g = golden.to(float64).cpu();
        var a = actual.to(float64).cpu();
        var excess = (a - g).abs() - (Atol + Rtol * g.abs());
        var worst = excess.max().item<double>();
        if (worst > 0 || double.IsNaN(worst) || a.isnan().any().item<bool>())
        {
            var flatIndex = excess.flatten().argmax().item<long>();
            var maxAbs = (a - g).abs().max().item<double>();
            Assert.Fail($"{what}: max |diff| {maxAbs:G4} exceeds atol {Atol} + rtol {Rtol}·|golden|; worst at flat index {flatIndex}: " +
                        $"actual {a.flatten()[flatIndex].item<double>():G8} vs golden {g.flatten()[flatIndex].item<double>():G8}");
        }
    }
}
