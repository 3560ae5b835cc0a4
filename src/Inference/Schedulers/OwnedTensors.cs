using static TorchSharp.torch;

namespace Easel.Inference.Schedulers;

/// <summary>
/// Tensors a scheduler keeps outside every dispose scope (its schedules and multistep state), disposed with it, so a
/// scheduler per request leaves nothing behind.
/// </summary>
public sealed class OwnedTensors : IDisposable
{
    private readonly List<Tensor> _tensors = [];

    /// <summary>Detaches <paramref name="tensor"/> from its dispose scope and owns it.</summary>
    public Tensor Add(Tensor tensor)
    {
        _tensors.Add(tensor.DetachFromDisposeScope());
        return tensor;
    }

    public void Dispose()
    {
        foreach (var tensor in _tensors)
            tensor.Dispose();
        _tensors.Clear();
    }
}

public static class OwnedTensorsExtensions
{
    /// <summary>Detaches <paramref name="tensor"/> from its dispose scope into <paramref name="owner"/>.</summary>
    public static Tensor OwnedBy(this Tensor tensor, OwnedTensors owner) => owner.Add(tensor);
}
