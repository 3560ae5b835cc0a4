using Easel.Inference.Models;
using Easel.Inference.Models.UNet;
using Easel.Inference.Tests.Parity;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Models;

/// <summary>The SDPA processor against the explicit one, and the processor seam for attention-map readers.</summary>
public sealed class AttentionProcessorTests
{
    private static double MaxDiff(Tensor a, Tensor b) => (a.to(float32) - b.to(float32)).abs().max().item<float>();

    private static (Tensor Explicit, Tensor Sdpa) Both(Attention attention, Tensor x, Tensor? context, Tensor? mask = null)
    {
        attention.Processor = AttnProcessor.Instance;
        var a = attention.forward(x, context, mask);
        attention.Processor = SdpaAttnProcessor.Instance;
        var b = attention.forward(x, context, mask);
        return (a, b);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Sdpa_MatchesExplicit_InFloat32(bool cross, bool upcast)
    {
        using var noGrad = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(1);
        using var attention = new Attention(new AttentionOptions(64, 4, 16, cross ? 32 : null, UpcastAttention: upcast));
        var x = torch.randn(2, 50, 64);
        var context = cross ? torch.randn(2, 7, 32) : null;
        var (a, b) = Both(attention, x, context);
        Assert.True(MaxDiff(a, b) < 1e-5, $"max |diff| {MaxDiff(a, b)}");

        var mask = torch.randn(2 * 4, 1, cross ? 7 : 50); // additive bias, (B·h, 1, M)
        (a, b) = Both(attention, x, context, mask);
        Assert.True(MaxDiff(a, b) < 1e-5, $"masked: max |diff| {MaxDiff(a, b)}");
    }

    [Fact]
    public void Sdpa_MatchesExplicit_ForVaeStyleSpatialAttention()
    {
        using var noGrad = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(2);
        using var attention = new Attention(new AttentionOptions(32, 1, 32, Bias: true, NormNumGroups: 8, Eps: 1e-6, ResidualConnection: true, RescaleOutputFactor: 1.0));
        var x = torch.randn(2, 32, 6, 5);
        var (a, b) = Both(attention, x, null);
        Assert.Equal(x.shape, b.shape);
        Assert.True(MaxDiff(a, b) < 1e-5, $"max |diff| {MaxDiff(a, b)}");
    }

    [Fact]
    public void Sdpa_StaysCloseToExplicit_InBFloat16_WithUpcast()
    {
        using var noGrad = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(3);
        using var attention = new Attention(new AttentionOptions(64, 4, 16, UpcastAttention: true));
        attention.to(ScalarType.BFloat16);
        var x = torch.randn(1, 40, 64).to(ScalarType.BFloat16);
        var (a, b) = Both(attention, x, null);
        Assert.Equal(ScalarType.BFloat16, b.dtype);
        Assert.True(MaxDiff(a, b) < 3e-2, $"max |diff| {MaxDiff(a, b)}");
    }

    /// <summary>An attention-map reader (as Prompt-to-Prompt will be): explicit path, through the same seam.</summary>
    private sealed class CrossAttentionRecorder : AttnProcessor
    {
        public List<(string Name, long[] Shape)> Seen { get; } = [];

        protected override Tensor OnAttentionProbabilities(Attention attention, Tensor probabilities, AttentionContext? context)
        {
            Seen.Add((attention.Name, probabilities.shape));
            return probabilities;
        }
    }

    [Fact]
    public void MapReadingProcessor_RunsThroughTheSeam_NextToSdpa()
    {
        using var unet = UNet2DConditionModel.FromPretrained(ParityFixtures.PathOf("models/sd15/unet"));
        var recorder = new CrossAttentionRecorder();
        unet.SetAttentionProcessor(a => a.IsCrossAttention ? recorder : SdpaAttnProcessor.Instance);
        using var noGrad = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        var config = unet.Config;
        var sample = torch.randn(2, config.InChannels, 16, 16);
        var text = torch.randn(2, 77, config.CrossAttentionDim.For(0, 1));
        var withRecorder = unet.forward(sample, torch.tensor(10L), text, null);
        Assert.NotEmpty(recorder.Seen);
        Assert.All(recorder.Seen, s => Assert.Equal(77, s.Shape[2]));
        Assert.All(recorder.Seen, s => Assert.EndsWith("attn2", s.Name));

        unet.SetAttentionProcessor(_ => AttnProcessor.Instance);
        var plain = unet.forward(sample, torch.tensor(10L), text, null);
        Assert.True(MaxDiff(plain, withRecorder) < 1e-4);
    }
}
