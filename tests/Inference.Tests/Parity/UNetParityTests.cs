using Easel.Inference.Control.Gligen;
using Easel.Inference.Models;
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
        if (c.Has("in.gligen.boxes"))
        {
            AssertGligenNoisePredictions(c, unet);
            return;
        }
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

    /// <summary>A GLIGEN unet case: the position net's tokens, the grounded call, and the same call without grounding.</summary>
    private static void AssertGligenNoisePredictions(ParityCase c, UNet2DConditionModel unet)
    {
        var tolerance = Tolerance.For(c.Info.Kind);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var grounding = GligenInput(c);
        var sample = c.Tensor("in.sample");
        var timestep = c.Tensor("in.timestep");
        var ehs = c.Tensor("in.encoder_hidden_states");
        var positionNet = unet.modules().OfType<GligenTextBoundingboxProjection>().Single();
        tolerance.AssertClose(c.Tensor("out.position_net_objs"), positionNet.call(grounding), $"{c.Name} out.position_net_objs");
        var grounded = unet.forward(sample, timestep, ehs, new UNetConditioning(Attention: new AttentionContext().With(grounding)));
        tolerance.AssertClose(c.Tensor("out.noise_pred"), grounded, $"{c.Name} out.noise_pred");
        tolerance.AssertClose(c.Tensor("out.noise_pred_fuser_disabled"), unet.forward(sample, timestep, ehs), $"{c.Name} out.noise_pred_fuser_disabled");
    }

    /// <summary>The case's in.gligen.* tensors (text-only: positive_embeddings; text-image: phrases/image embeddings and masks).</summary>
    internal static GligenGroundingInput GligenInput(ParityCase c) => c.Has("in.gligen.positive_embeddings")
        ? new GligenGroundingInput(c.Tensor("in.gligen.boxes"), c.Tensor("in.gligen.masks"), c.Tensor("in.gligen.positive_embeddings"))
        : new GligenGroundingInput(c.Tensor("in.gligen.boxes"), c.Tensor("in.gligen.masks"), c.Tensor("in.gligen.phrases_embeddings"),
            c.Tensor("in.gligen.phrases_masks"), c.Tensor("in.gligen.image_embeddings"), c.Tensor("in.gligen.image_masks"));
}
