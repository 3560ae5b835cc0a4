using Easel.Inference.Models;
using Easel.Inference.Models.UNet;
using Easel.Inference.Models.Vae;
using Easel.Inference.Pipelines;
using TorchSharp;
using Xunit.Abstractions;

namespace Easel.Inference.Tests.Parity;

/// <summary>
/// The goldens with the other attention backend: UNet and VAE cases with the SDPA processor installed (their
/// default tests use the explicit processor), and pipeline cases with the explicit processor (the pipeline
/// default, "auto", is SDPA). Same tolerances as the default tests.
/// </summary>
[Trait("Category", "Parity")]
public sealed class AttentionBackendParityTests(ITestOutputHelper output)
{
    public static TheoryData<string> UNetCases => ParityFixtures.CasesOfKind("unet");
    public static TheoryData<string> VaeCases => ParityFixtures.CasesOfKind("vae");
    public static TheoryData<string> PipelineCases => ParityFixtures.PlainPipelineCases();

    [SkippableTheory]
    [MemberData(nameof(UNetCases))]
    public void UNet_WithSdpa_MatchesDiffusers(string caseName)
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
        unet.SetAttentionProcessor(_ => SdpaAttnProcessor.Instance);
        Assert.All(unet.AttentionModules(), a => Assert.Same(SdpaAttnProcessor.Instance, a.Processor));
        using (var scope = torch.NewDisposeScope())
        using (var noGrad = torch.inference_mode())
        {
            var gligen = c.Has("in.gligen.boxes");
            var conditioning = gligen
                ? new UNetConditioning(Attention: new AttentionContext().With(UNetParityTests.GligenInput(c)))
                : c.Has("in.text_embeds")
                    ? new UNetConditioning(Added: new AddedConditions(c.Tensor("in.text_embeds"), c.Tensor("in.time_ids")))
                    : null;
            var timestep = c.Tensor(gligen ? "in.timestep" : "in.timestep_scalar");
            var sdpa = unet.forward(c.Tensor("in.sample"), timestep, c.Tensor("in.encoder_hidden_states"), conditioning);
            unet.SetAttentionProcessor(_ => AttnProcessor.Instance);
            var explicitPath = unet.forward(c.Tensor("in.sample"), timestep, c.Tensor("in.encoder_hidden_states"), conditioning);
            unet.SetAttentionProcessor(_ => SdpaAttnProcessor.Instance);
            var golden = c.Tensor(gligen ? "out.noise_pred" : "out.noise_pred_scalar_t");
            output.WriteLine($"{caseName}: noise_pred max |diff| vs golden — SDPA {(sdpa - golden).abs().max().item<float>():G3}, " +
                             $"explicit {(explicitPath - golden).abs().max().item<float>():G3} (tolerance atol 1e-4 + rtol 1e-4)");
        }
        UNetParityTests.AssertNoisePredictions(c, unet);
    }

    [SkippableTheory]
    [MemberData(nameof(VaeCases))]
    public void Vae_WithSdpa_MatchesDiffusers(string caseName)
    {
        using var c = ParityFixtures.Load(caseName);
        AutoencoderKL vae;
        try
        {
            vae = AutoencoderKL.FromPretrained(c.ModelDir);
        }
        catch (NotSupportedException e)
        {
            throw new SkipException($"{caseName}: {e.Message}");
        }
        using var _ = vae;
        vae.SetAttentionProcessor(_ => SdpaAttnProcessor.Instance);
        VaeParityTests.AssertEncodeDecode(c, vae);
    }

    [SkippableTheory]
    [MemberData(nameof(PipelineCases))]
    public void Pipeline_WithExplicitAttention_MatchesDiffusers(string caseName) =>
        PipelineParityTests.AssertPipelineMatches(caseName, new PipelineOptions("cpu", "float32") { Attention = "explicit" });
}
