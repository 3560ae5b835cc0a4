using Easel.Inference.Models.UNet;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Parity;

/// <summary>UNet2DConditionModel against diffusers goldens: every unet case of the fixture manifest.</summary>
public sealed class UNetParityTests
{
    public static TheoryData<string> Cases => ParityFixtures.CasesOfKind("unet");

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    [Trait("Category", "Parity")]
    public void NoisePrediction_MatchesDiffusers(string caseName)
    {
        using var c = ParityFixtures.Load(caseName);
        UNet2DConditionModel unet;
        try
        {
            unet = UNet2DConditionModel.FromPretrained(c.ModelDir);
        }
        catch (NotSupportedException e)
        {
            throw new SkipException($"{caseName}: {e.Message}");
        }

        using var _ = unet;
        AssertNoisePredictions(c, unet);
    }

    /// <summary>Every timestep/noise_pred pair (and the mid.unet.* intermediates) of a unet case, for a UNet however it was loaded.</summary>
    internal static void AssertNoisePredictions(ParityCase c, UNet2DConditionModel unet)
    {
        var caseName = c.Name;
        var tolerance = Tolerance.For(c.Info.Kind);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var sample = c.Tensor("in.sample");
        var ehs = c.Tensor("in.encoder_hidden_states");
        var conditioning = c.Has("in.text_embeds")
            ? new UNetConditioning(Added: new AddedConditions(c.Tensor("in.text_embeds"), c.Tensor("in.time_ids")))
            : null;

        var calls = new (string Timestep, string Golden)[]
        {
            ("in.timestep_scalar", "out.noise_pred_scalar_t"),
            ("in.timestep_batched", "out.noise_pred_batched_t"),
            ("in.timestep_float", "out.noise_pred_float_t"),
        };
        var compared = 0;
        foreach (var (timestepName, goldenName) in calls.Where(x => c.Has(x.Timestep) && c.Has(x.Golden)))
        {
            var intermediates = new Dictionary<string, Tensor>();
            Action<string, Tensor>? observe = timestepName == "in.timestep_scalar"
                ? (name, t) => intermediates[name] = t.narrow(0, 0, 1).clone().DetachFromDisposeScope()
                : null;
            var actual = unet.forward(sample, c.Tensor(timestepName), ehs, conditioning, observe);
            tolerance.AssertClose(c.Tensor(goldenName), actual, $"{caseName} {goldenName}");
            compared++;
            var intermediatesCompared = 0;
            foreach (var (name, tensor) in intermediates)
            {
                using (tensor)
                {
                    var golden = "mid.unet." + name;
                    if (c.Has(golden))
                    {
                        tolerance.AssertClose(c.Tensor(golden), tensor, $"{caseName} {golden}");
                        intermediatesCompared++;
                    }
                }
            }
            if (observe is not null)
                Assert.True(intermediatesCompared > 0 || !c.TensorNames.Any(n => n.StartsWith("mid.unet.", StringComparison.Ordinal)),
                    $"{caseName}: no mid.unet.* golden matched an observed intermediate.");
        }
        Assert.True(compared > 0, $"{caseName} has no timestep/noise_pred pair to compare.");
    }
}
