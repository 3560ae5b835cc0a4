using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Models;

/// <summary>A Linear layer (weight [out, in], optional bias [out]) that can carry LoRA updates; see <see cref="LoraLayer"/>.</summary>
public sealed class LoraLinear : LoraLayer
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly Parameter weight;
    private readonly Parameter? bias;
#pragma warning restore IDE1006

    /// <summary>Initialised as torch.nn.Linear (Kaiming-uniform weight, uniform ±1/√in bias); checkpoints overwrite both.</summary>
    public LoraLinear(long inFeatures, long outFeatures, bool hasBias = true, string name = "linear") : base(name)
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        // The layer owns its parameters: a model built inside a caller's dispose scope must outlive it.
        weight = new Parameter(torch.empty(outFeatures, inFeatures).DetachFromDisposeScope());
        nn.init.kaiming_uniform_(weight, Math.Sqrt(5));
        if (hasBias)
        {
            var bound = 1 / Math.Sqrt(inFeatures);
            bias = new Parameter(torch.empty(outFeatures).DetachFromDisposeScope());
            nn.init.uniform_(bias, -bound, bound);
        }
        RegisterComponents();
    }

    public long InFeatures { get; }
    public long OutFeatures { get; }

    public override Parameter Weight => weight;
    public override Parameter? Bias => bias;

    protected override Tensor BaseForward(Tensor x) => nn.functional.linear(x, weight, bias);

    protected override Tensor DownForward(Tensor x, Tensor down) => nn.functional.linear(x, down); // (.., r)

    protected override Tensor UpForward(Tensor h, Tensor up) => nn.functional.linear(h, up); // (.., out)

    protected override Tensor Delta(Tensor down, Tensor up) => up.matmul(down); // [out, in]

    protected override (Tensor Down, Tensor Up) Normalise(Tensor down, Tensor up)
    {
        // kohya stores updates of 1×1-conv-shaped projections as [r, in, 1, 1] / [out, r, 1, 1]: the same matrices.
        if (down.dim() == 4 && down.shape[2] == 1 && down.shape[3] == 1)
            down = down.flatten(1);
        if (up.dim() == 4 && up.shape[2] == 1 && up.shape[3] == 1)
            up = up.flatten(1);
        if (down.dim() != 2 || up.dim() != 2 || down.shape[1] != InFeatures || up.shape[0] != OutFeatures || up.shape[1] != down.shape[0])
            throw new ArgumentException(
                $"A LoRA update down [{string.Join(", ", down.shape)}], up [{string.Join(", ", up.shape)}] does not fit a linear layer [{OutFeatures}, {InFeatures}].");
        return (down, up);
    }
}
