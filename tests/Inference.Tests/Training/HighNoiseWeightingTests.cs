using Easel.Inference.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Training;

public sealed class HighNoiseWeightingTests
{
    [Fact]
    public void Epsilon_loss_is_weighted_by_the_inverse_of_alpha_bar_up_to_the_cap()
    {
        var weights = new HighNoiseWeighting(10).Weights(torch.tensor(new[] { 1f, 0.5f, 0.25f, 0.01f }), "epsilon");
        Assert.Equal(new[] { 1f, 2f, 4f, 10f }, weights.data<float>().ToArray());
    }

    [Fact]
    public void Weighted_epsilon_and_v_losses_agree_for_the_same_predicted_image()
    {
        // One predicted clean latent x̂₀ at several noise levels, expressed as an ε and as a v prediction: the two
        // weighted losses must be equal, so the cap means the same in both parameterisations.
        var generator = new Generator(5, CPU);
        var alphaBar = torch.tensor(new[] { 0.9f, 0.3f, 0.05f, 0.004f }).view(-1, 1, 1, 1);
        var (a, s) = (alphaBar.sqrt(), (1 - alphaBar).sqrt());
        var clean = torch.randn([4, 4, 8, 8], generator: generator);
        var noise = torch.randn([4, 4, 8, 8], generator: generator);
        var predictedClean = clean + 0.3 * torch.randn([4, 4, 8, 8], generator: generator);
        var noisy = a * clean + s * noise;
        var predictedNoise = (noisy - a * predictedClean) / s;
        var velocity = a * noise - s * clean;
        var predictedVelocity = a * predictedNoise - s * predictedClean;

        var weighting = new HighNoiseWeighting(50);
        var flat = alphaBar.flatten();
        var epsilonLoss = (predictedNoise - noise).square().mean([1, 2, 3]) * weighting.Weights(flat, "epsilon");
        var velocityLoss = (predictedVelocity - velocity).square().mean([1, 2, 3]) * weighting.Weights(flat, "v_prediction");

        Assert.True(epsilonLoss.allclose(velocityLoss, rtol: 1e-4), $"{epsilonLoss.str()} vs {velocityLoss.str()}");
    }
}
