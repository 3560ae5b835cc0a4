using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Models;

/// <summary>Construction options of <see cref="ResnetBlock2D"/>.</summary>
public sealed record ResnetBlock2DOptions(
    long InChannels,
    long OutChannels,
    long? TembChannels,
    int Groups,
    double Eps,
    string Activation = "silu",
    double OutputScaleFactor = 1.0,
    string TimeEmbeddingNorm = "default",
    bool SkipTimeAct = false);

/// <summary>
/// diffusers' ResnetBlock2D: GroupNorm → act → conv1 (+ projected time embedding) → GroupNorm → act →
/// conv2, plus a 1×1 conv_shortcut when the channel count changes; output = (shortcut + h) / scale.
/// </summary>
public sealed class ResnetBlock2D : nn.Module<Tensor, Tensor?, Tensor>
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly GroupNorm norm1;
    private readonly LoraConv2d conv1;
    private readonly LoraLinear? time_emb_proj;
    private readonly GroupNorm norm2;
    private readonly Dropout dropout;
    private readonly LoraConv2d conv2;
    private readonly LoraConv2d? conv_shortcut;
#pragma warning restore IDE1006
    private readonly Func<Tensor, Tensor> _act;
    private readonly ResnetBlock2DOptions _options;

    public ResnetBlock2D(ResnetBlock2DOptions options, string name = "resnet") : base(name)
    {
        _options = options;
        if (options.TimeEmbeddingNorm is not ("default" or "scale_shift"))
            throw new NotSupportedException($"ResnetBlock2D time_embedding_norm '{options.TimeEmbeddingNorm}' is not supported (default, scale_shift are).");
        _act = Layers.Activation(options.Activation);
        norm1 = Layers.GroupNorm(options.Groups, options.InChannels, options.Eps);
        conv1 = Layers.Conv2d(options.InChannels, options.OutChannels, 3, padding: 1);
        if (options.TembChannels is { } temb)
        {
            var projected = options.TimeEmbeddingNorm == "scale_shift" ? 2 * options.OutChannels : options.OutChannels;
            time_emb_proj = Layers.Linear(temb, projected);
        }
        norm2 = Layers.GroupNorm(options.Groups, options.OutChannels, options.Eps);
        dropout = nn.Dropout(0.0);
        conv2 = Layers.Conv2d(options.OutChannels, options.OutChannels, 3, padding: 1);
        if (options.InChannels != options.OutChannels)
            conv_shortcut = Layers.Conv2d(options.InChannels, options.OutChannels, 1);
        RegisterComponents();
    }

    /// <param name="input">(B, Cin, H, W)</param>
    /// <param name="temb">(B, T) time embedding, or null for blocks built without one (VAE).</param>
    public override Tensor forward(Tensor input, Tensor? temb)
    {
        using var scope = torch.NewDisposeScope();
        var h = _act(norm1.call(input)); // (B, Cin, H, W)
        h = conv1.call(h); // (B, Cout, H, W)
        Tensor? t = null;
        if (time_emb_proj is not null && temb is not null)
        {
            t = _options.SkipTimeAct ? temb : _act(temb);
            t = time_emb_proj.call(t).unsqueeze(-1).unsqueeze(-1); // (B, Cout or 2·Cout, 1, 1)
        }
        if (_options.TimeEmbeddingNorm == "default")
        {
            if (t is not null)
                h = h + t;
            h = norm2.call(h);
        }
        else
        {
            h = norm2.call(h);
            if (t is not null)
            {
                var parts = t.chunk(2, 1);
                h = h * (1 + parts[0]) + parts[1];
            }
        }
        h = conv2.call(dropout.call(_act(h))); // (B, Cout, H, W)
        var shortcut = conv_shortcut is null ? input : conv_shortcut.call(input); // (B, Cout, H, W)
        var output = shortcut + h;
        if (_options.OutputScaleFactor != 1.0)
            output = output / _options.OutputScaleFactor;
        return output.MoveToOuterDisposeScope();
    }
}
