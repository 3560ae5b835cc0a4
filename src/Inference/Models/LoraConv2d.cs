using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Models;

/// <summary>
/// A square 2-D convolution (weight [out, in, k, k], bias [out]) that can carry LoRA updates; see <see cref="LoraLayer"/>.
/// An update's down is a k×k convolution with this layer's stride and padding, its up a 1×1 convolution (kohya's conv
/// LoRA, "LoCon"), so up(down(x)) equals convolving x with ΔW = up·down reshaped to [out, in, k, k].
/// </summary>
public sealed class LoraConv2d : LoraLayer
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly Parameter weight;
    private readonly Parameter bias;
#pragma warning restore IDE1006

    /// <summary>Initialised as torch.nn.Conv2d (Kaiming-uniform weight, uniform ±1/√fan_in bias); checkpoints overwrite both.</summary>
    public LoraConv2d(long inChannels, long outChannels, long kernel, long stride = 1, long padding = 0, string name = "conv") : base(name)
    {
        InChannels = inChannels;
        OutChannels = outChannels;
        Kernel = kernel;
        Stride = stride;
        Padding = padding;
        // The layer owns its parameters: a model built inside a caller's dispose scope must outlive it.
        weight = new Parameter(torch.empty(outChannels, inChannels, kernel, kernel).DetachFromDisposeScope());
        nn.init.kaiming_uniform_(weight, Math.Sqrt(5));
        var bound = 1 / Math.Sqrt(inChannels * kernel * kernel);
        bias = new Parameter(torch.empty(outChannels).DetachFromDisposeScope());
        nn.init.uniform_(bias, -bound, bound);
        RegisterComponents();
    }

    public long InChannels { get; }
    public long OutChannels { get; }
    public long Kernel { get; }
    public long Stride { get; }
    public long Padding { get; }

    public override Parameter Weight => weight;
    public override Parameter Bias => bias;

    protected override Tensor BaseForward(Tensor x) =>
        nn.functional.conv2d(x, weight, bias, strides: [Stride, Stride], padding: [Padding, Padding]);

    protected override Tensor DownForward(Tensor x, Tensor down) =>
        nn.functional.conv2d(x, down, strides: [Stride, Stride], padding: [Padding, Padding]); // (B, r, H', W')

    protected override Tensor UpForward(Tensor h, Tensor up) => nn.functional.conv2d(h, up); // (B, out, H', W')

    protected override Tensor Delta(Tensor down, Tensor up) =>
        up.flatten(1).matmul(down.flatten(1)).reshape(OutChannels, InChannels, Kernel, Kernel);

    protected override (Tensor Down, Tensor Up) Normalise(Tensor down, Tensor up)
    {
        // A linear-shaped update ([r, in], [out, r]) fits a 1×1 convolution (SD 1.x proj_in/proj_out).
        if (down.dim() == 2 && Kernel == 1)
            down = down.reshape(down.shape[0], down.shape[1], 1, 1);
        if (up.dim() == 2)
            up = up.reshape(up.shape[0], up.shape[1], 1, 1);
        if (down.dim() != 4 || up.dim() != 4 || down.shape[1] != InChannels || down.shape[2] != Kernel || down.shape[3] != Kernel
            || up.shape[0] != OutChannels || up.shape[1] != down.shape[0] || up.shape[2] != 1 || up.shape[3] != 1)
            throw new ArgumentException(
                $"A LoRA update down [{string.Join(", ", down.shape)}], up [{string.Join(", ", up.shape)}] does not fit a convolution [{OutChannels}, {InChannels}, {Kernel}, {Kernel}].");
        return (down, up);
    }
}
