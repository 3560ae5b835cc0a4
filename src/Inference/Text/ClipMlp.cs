using TorchSharp;
using Easel.Inference.Models;
using static TorchSharp.torch;

namespace Easel.Inference.Text;

/// <summary>transformers' <c>CLIPMLP</c>: fc1 → activation (from <c>hidden_act</c>) → fc2.</summary>
public sealed class ClipMlp : nn.Module<Tensor, Tensor>
{
    private readonly LoraLinear fc1;
    private readonly LoraLinear fc2;
    private readonly Func<Tensor, Tensor> _activation;

    public ClipMlp(ClipTextConfig config) : base(nameof(ClipMlp))
    {
        _activation = ActivationFor(config.HiddenAct);
        fc1 = Layers.Linear(config.HiddenSize, config.IntermediateSize);
        fc2 = Layers.Linear(config.IntermediateSize, config.HiddenSize);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hiddenStates)
    {
        using var scope = NewDisposeScope();
        return fc2.forward(_activation(fc1.forward(hiddenStates))).MoveToOuterDisposeScope();
    }

    /// <summary>transformers' ACT2FN entries that CLIP checkpoints use; others are refused rather than approximated.</summary>
    internal static Func<Tensor, Tensor> ActivationFor(string name) => name switch
    {
        // QuickGELUActivation: x * sigmoid(1.702 x), the original OpenAI CLIP activation.
        "quick_gelu" => x => x * (x * 1.702).sigmoid(),
        // GELUActivation: the exact erf form.
        "gelu" => x => nn.functional.gelu(x),
        // NewGELUActivation / PytorchGELUTanh: the tanh approximation, written out as NewGELUActivation does.
        "gelu_new" or "gelu_pytorch_tanh" => x => 0.5 * x * (1.0 + (Math.Sqrt(2.0 / Math.PI) * (x + 0.044715 * x.pow(3.0))).tanh()),
        _ => throw new NotSupportedException($"CLIP hidden_act '{name}' is not supported (quick_gelu, gelu, gelu_new, gelu_pytorch_tanh are)."),
    };
}
