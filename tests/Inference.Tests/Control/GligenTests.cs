using Easel.Inference.Control.Gligen;
using Easel.Inference.Models;
using Easel.Inference.Models.UNet;
using Easel.Inference.Tests.Parity;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Control;

/// <summary>Behaviour of GLIGEN grounding: scheduled sampling, closed gates, request validation.</summary>
public sealed class GligenTests
{
    [Fact]
    public void Beta_RunsTheFusersForTheFirstBetaTimesNStepsOnly()
    {
        using var objects = torch.zeros(1, 30, 8);
        var tokens = new GligenGroundingTokens(objects, Beta: 0.3);
        var active = Enumerable.Range(0, 10).Where(i => tokens.ActiveAt(i, 10)).ToArray();
        Assert.Equal([0, 1, 2], active);
    }

    [Fact]
    public void UNet_WithEveryFuserGateAtZero_EqualsThePlainUNet()
    {
        using var unet = UNet2DConditionModel.FromPretrained(ParityFixtures.PathOf("models/gligen_text/unet"));
        using var noGrad = torch.no_grad();
        foreach (var (name, parameter) in unet.named_parameters().Where(p => p.name.Contains(".fuser.alpha_")))
            parameter.zero_();
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(3);
        var sample = torch.randn(1, 4, 32, 32);
        var ehs = torch.randn(1, 77, 32);
        var timestep = torch.tensor(500L);
        var grounding = new GligenGroundingInput(torch.rand(1, 30, 4), torch.ones(1, 30), torch.randn(1, 30, 32));
        var grounded = unet.forward(sample, timestep, ehs, new UNetConditioning(Attention: new AttentionContext(0, 10).With(grounding)));
        var plain = unet.forward(sample, timestep, ehs);
        Assert.Equal(0f, (grounded - plain).abs().max().item<float>());
    }

    [Fact]
    public void UNet_WithOpenGates_ChangesTheOutputWhenGrounded()
    {
        using var unet = UNet2DConditionModel.FromPretrained(ParityFixtures.PathOf("models/gligen_text/unet"));
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(3);
        var sample = torch.randn(1, 4, 32, 32);
        var ehs = torch.randn(1, 77, 32);
        var timestep = torch.tensor(500L);
        var grounding = new GligenGroundingInput(torch.rand(1, 30, 4), torch.ones(1, 30), torch.randn(1, 30, 32), Beta: 0.5);
        var early = unet.forward(sample, timestep, ehs, new UNetConditioning(Attention: new AttentionContext(4, 10).With(grounding)));
        var late = unet.forward(sample, timestep, ehs, new UNetConditioning(Attention: new AttentionContext(5, 10).With(grounding)));
        var plain = unet.forward(sample, timestep, ehs);
        Assert.True((early - plain).abs().max().item<float>() > 1e-4f);
        Assert.Equal(0f, (late - plain).abs().max().item<float>());
    }

    [Fact]
    public void PlainUNet_RefusesGrounding()
    {
        using var unet = UNet2DConditionModel.FromPretrained(ParityFixtures.PathOf("models/sd15/unet"));
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var grounding = new GligenGroundingInput(torch.rand(1, 30, 4), torch.ones(1, 30), torch.randn(1, 30, 32));
        var error = Assert.Throws<ArgumentException>(() => unet.forward(torch.randn(1, 4, 32, 32), torch.tensor(1L),
            torch.randn(1, 77, unet.Config.CrossAttentionDim.Single ?? 768), new UNetConditioning(Attention: new AttentionContext().With(grounding))));
        Assert.Contains("GLIGEN UNet", error.Message);
    }

    [Theory]
    [InlineData(-0.1f, 0f, 0.5f, 0.5f, "outside [0, 1]")]
    [InlineData(0f, 0f, 1.2f, 0.5f, "outside [0, 1]")]
    [InlineData(0.5f, 0f, 0.5f, 0.5f, "x1 > x0")]
    [InlineData(0f, 0.6f, 0.5f, 0.2f, "y1 > y0")]
    public void Validate_RefusesABadBox(float x0, float y0, float x1, float y1, string reason)
    {
        var grounding = new GligenGrounding(["a red circle"], [[x0, y0, x1, y1]]);
        var error = Assert.Throws<ArgumentException>(grounding.Validate);
        Assert.Contains("boxes[0]", error.Message);
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void Validate_RefusesMoreThanThirtyEntities()
    {
        var grounding = new GligenGrounding(Enumerable.Repeat("a dot", 31).ToArray(),
            Enumerable.Range(0, 31).Select(_ => new[] { 0.1f, 0.1f, 0.2f, 0.2f }).ToArray());
        var error = Assert.Throws<ArgumentException>(grounding.Validate);
        Assert.Contains("at most 30", error.Message);
    }

    [Fact]
    public void Validate_RefusesPhraseAndBoxCountsThatDiffer()
    {
        var grounding = new GligenGrounding(["a red circle", "a blue square"], [[0.1f, 0.1f, 0.4f, 0.4f]]);
        var error = Assert.Throws<ArgumentException>(grounding.Validate);
        Assert.Contains("2 phrases and 1 boxes", error.Message);
    }

    [Fact]
    public void Validate_AcceptsBoxesInsideTheImage()
    {
        new GligenGrounding(["a red circle", "a blue square"], [[0f, 0f, 0.5f, 0.5f], [0.5f, 0.5f, 1f, 1f]]).Validate();
    }
}
