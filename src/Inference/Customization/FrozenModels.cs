using static TorchSharp.torch;

namespace Easel.Inference.Customization;

/// <summary>
/// Turns requires_grad off on every parameter of the given models for a fine-tune, so that backpropagation computes no
/// gradient for the base weights (only the activations' and the trained tensors'); <see cref="Dispose"/> puts each flag back.
/// </summary>
internal sealed class FrozenModels : IDisposable
{
    private readonly List<(TorchSharp.Modules.Parameter Parameter, bool RequiresGrad)> _previous = [];

    public FrozenModels(IEnumerable<nn.Module> models)
    {
        foreach (var parameter in models.SelectMany(m => m.parameters()))
        {
            _previous.Add((parameter, parameter.requires_grad));
            parameter.requires_grad = false;
        }
    }

    public void Dispose()
    {
        foreach (var (parameter, requiresGrad) in _previous)
            parameter.requires_grad = requiresGrad;
        _previous.Clear();
    }
}
