using Easel.Inference.Models.Vae;
using TorchSharp;

namespace Easel.Inference.Tests.Parity;

/// <summary>AutoencoderKL against diffusers goldens: every vae case of the fixture manifest.</summary>
public sealed class VaeParityTests
{
    public static TheoryData<string> Cases => ParityFixtures.CasesOfKind("vae");

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    [Trait("Category", "Parity")]
    public void EncodeAndDecode_MatchDiffusers(string caseName)
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
        AssertEncodeDecode(c, vae);
    }

    /// <summary>Posterior and decode goldens of a vae case, for a VAE however it was loaded.</summary>
    internal static void AssertEncodeDecode(ParityCase c, AutoencoderKL vae)
    {
        var caseName = c.Name;
        var tolerance = Tolerance.For(c.Info.Kind);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        if (c.Params.TryGetProperty("scaling_factor", out var scaling))
            Assert.Equal(scaling.GetDouble(), vae.Config.ScalingFactor, 12);

        var image = c.Tensor("in.image");
        if (c.Has("mid.encoder_out"))
            tolerance.AssertClose(c.Tensor("mid.encoder_out"), vae.Encoder.call(image), $"{caseName} mid.encoder_out");
        using (var posterior = vae.Encode(image))
        {
            tolerance.AssertClose(c.Tensor("out.posterior_moments"), posterior.Moments, $"{caseName} out.posterior_moments");
            tolerance.AssertClose(c.Tensor("out.posterior_mean"), posterior.Mean, $"{caseName} out.posterior_mean");
            tolerance.AssertClose(c.Tensor("out.posterior_logvar"), posterior.LogVar, $"{caseName} out.posterior_logvar");
            tolerance.AssertClose(c.Tensor("out.posterior_std"), posterior.Std, $"{caseName} out.posterior_std");
        }
        tolerance.AssertClose(c.Tensor("out.decoded"), vae.Decode(c.Tensor("in.latents")), $"{caseName} out.decoded");
    }
}
