using Easel.Inference.Models;
using TorchSharp;

namespace Easel.Inference.Tests.Models;

public sealed class SeededInitializationTests
{
    [Fact]
    public void Redrawn_layers_depend_on_the_given_generator_and_not_on_torch_global_one()
    {
        torch.manual_seed(1);
        using var first = torch.nn.Sequential(Layers.Linear(6, 4), Layers.Conv2d(4, 3, 3, padding: 1));
        torch.manual_seed(2);
        using var second = torch.nn.Sequential(Layers.Linear(6, 4), Layers.Conv2d(4, 3, 3, padding: 1));
        using (var generator = new torch.Generator(7, torch.CPU))
            SeededInitialization.Redraw(first, generator);
        using (var generator = new torch.Generator(7, torch.CPU))
            SeededInitialization.Redraw(second, generator);

        var a = first.parameters().ToList();
        var b = second.parameters().ToList();
        Assert.Equal(4, a.Count);
        Assert.All(a.Zip(b), p => Assert.True(p.First.equal(p.Second).all().item<bool>()));
    }

    [Fact]
    public void Redrawn_weights_and_biases_lie_within_the_default_bound_of_their_fan_in()
    {
        using var conv = Layers.Conv2d(4, 3, 3, padding: 1);
        using var generator = new torch.Generator(7, torch.CPU);
        SeededInitialization.Redraw(conv, generator);

        var bound = 1 / Math.Sqrt(4 * 3 * 3);
        Assert.All(conv.parameters(), p => Assert.True(p.abs().max().item<float>() <= bound));
        Assert.All(conv.parameters(), p => Assert.True(p.abs().max().item<float>() > bound / 2));
    }
}
