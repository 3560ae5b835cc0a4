using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Easel.Inference.Customization;

/// <summary>
/// The tensors a fine-tune trains (LoRA factors, new token rows), gathered in a module so that <see cref="Training.TrainingLoop"/>
/// optimises and checkpoints them by name. The module owns them.
/// </summary>
internal sealed class TrainableTensors : nn.Module
{
    public TrainableTensors(string name) : base(name)
    {
    }

    /// <summary>Registers a float32 copy of <paramref name="initial"/> as a leaf with requires_grad and returns it.</summary>
    /// <param name="name">Its checkpoint name; dots are not allowed (module paths are written with '_').</param>
    public Parameter Add(string name, Tensor initial)
    {
        var parameter = new Parameter(initial.detach().to(ScalarType.Float32).clone(), requires_grad: true);
        parameter.DetachFromDisposeScope(); // lives as long as the module, not as a caller's scope
        register_parameter(name, parameter);
        return parameter;
    }
}
