using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Models;

/// <summary>Construction options of <see cref="Attention"/> (diffusers' Attention keyword arguments).</summary>
public sealed record AttentionOptions(
    long QueryDim,
    int Heads,
    long DimHead,
    long? CrossAttentionDim = null,
    bool Bias = false,
    bool OutBias = true,
    bool UpcastAttention = false,
    bool UpcastSoftmax = false,
    int? NormNumGroups = null,
    double Eps = 1e-5,
    bool ResidualConnection = false,
    double RescaleOutputFactor = 1.0);

/// <summary>
/// Multi-head attention with to_q/to_k/to_v/to_out.0 projections (checkpoint key names of diffusers'
/// Attention), an optional input GroupNorm, residual connection and output rescale (the VAE mid-block
/// form). The computation itself is delegated to a swappable <see cref="IAttentionProcessor"/>.
/// </summary>
public sealed class Attention : nn.Module<Tensor, Tensor?, Tensor>
{
#pragma warning disable IDE1006 // field names are checkpoint keys
    private readonly GroupNorm? group_norm;
    private readonly LoraLinear to_q;
    private readonly LoraLinear to_k;
    private readonly LoraLinear to_v;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> to_out;
#pragma warning restore IDE1006

    public Attention(AttentionOptions options, string name = "attention") : base(name)
    {
        Options = options;
        Name = name;
        var inner = options.DimHead * options.Heads;
        Scale = Math.Pow(options.DimHead, -0.5);
        if (options.NormNumGroups is { } groups)
            group_norm = Layers.GroupNorm(groups, options.QueryDim, options.Eps);
        to_q = Layers.Linear(options.QueryDim, inner, options.Bias);
        to_k = Layers.Linear(options.CrossAttentionDim ?? options.QueryDim, inner, options.Bias);
        to_v = Layers.Linear(options.CrossAttentionDim ?? options.QueryDim, inner, options.Bias);
        to_out = new ModuleList<nn.Module<Tensor, Tensor>>(Layers.Linear(inner, options.QueryDim, options.OutBias), nn.Dropout(0.0));
        RegisterComponents();
    }

    public AttentionOptions Options { get; }

    /// <summary>The module's path in its model (e.g. down_blocks.0.attentions.1.transformer_blocks.0.attn2), set by the model.</summary>
    public string Name { get; internal set; }

    /// <summary>True when keys/values come from a different sequence (cross_attention_dim was given).</summary>
    public bool IsCrossAttention => Options.CrossAttentionDim is not null;

    public int Heads => Options.Heads;
    public double Scale { get; }
    public bool UpcastAttention => Options.UpcastAttention;
    public bool UpcastSoftmax => Options.UpcastSoftmax;
    public bool ResidualConnection => Options.ResidualConnection;
    public double RescaleOutputFactor => Options.RescaleOutputFactor;

    /// <summary>The processor that computes this module's attention; <see cref="AttnProcessor"/> by default.</summary>
    public IAttentionProcessor Processor { get; set; } = AttnProcessor.Instance;

    public GroupNorm? GroupNormModule => group_norm;
    public LoraLinear ToQ => to_q;
    public LoraLinear ToK => to_k;
    public LoraLinear ToV => to_v;

    /// <summary>to_out.0 (the output Linear); to_out.1 is dropout, the identity at inference.</summary>
    public LoraLinear ToOut => (LoraLinear)to_out[0];

    /// <summary>Applies to_out.0 then to_out.1.</summary>
    public Tensor OutputProjection(Tensor x)
    {
        foreach (var layer in to_out)
            x = layer.call(x);
        return x;
    }

    public override Tensor forward(Tensor hiddenStates, Tensor? encoderHiddenStates) =>
        Processor.Process(this, hiddenStates, encoderHiddenStates, null, null);

    /// <summary>Runs the processor with an attention mask (additive bias) and the UNet call's context.</summary>
    public Tensor forward(Tensor hiddenStates, Tensor? encoderHiddenStates, Tensor? attentionMask, AttentionContext? context = null) =>
        Processor.Process(this, hiddenStates, encoderHiddenStates, attentionMask, context);

    /// <summary>(B, N, h·d) → (B·h, N, d).</summary>
    public Tensor HeadToBatchDim(Tensor x)
    {
        var (b, n, dim) = (x.shape[0], x.shape[1], x.shape[2]);
        return x.reshape(b, n, Heads, dim / Heads).permute(0, 2, 1, 3).reshape(b * Heads, n, dim / Heads);
    }

    /// <summary>(B·h, N, d) → (B, N, h·d).</summary>
    public Tensor BatchToHeadDim(Tensor x)
    {
        var (bh, n, d) = (x.shape[0], x.shape[1], x.shape[2]);
        return x.reshape(bh / Heads, Heads, n, d).permute(0, 2, 1, 3).reshape(bh / Heads, n, d * Heads);
    }

    /// <summary>softmax(Q·Kᵀ·scale [+ mask]) as diffusers computes it (baddbmm; float32 scores when upcast).</summary>
    public Tensor GetAttentionScores(Tensor query, Tensor key, Tensor? attentionMask)
    {
        using var scope = torch.NewDisposeScope();
        var dtype = query.dtype;
        if (UpcastAttention)
        {
            query = query.to(ScalarType.Float32);
            key = key.to(ScalarType.Float32);
        }
        // diffusers uses baddbmm(empty, Q, Kᵀ, beta=0, alpha=scale); TorchSharp 0.107's baddbmm binds its
        // arguments in the wrong order, so the same product is written as bmm then scale.
        var scores = torch.bmm(query, key.transpose(-1, -2)) * Scale; // (B·h, N, M)
        if (attentionMask is not null)
            scores = scores + attentionMask;
        if (UpcastSoftmax)
            scores = scores.to(ScalarType.Float32);
        var probs = scores.softmax(-1).to(dtype); // (B·h, N, M)
        return probs.MoveToOuterDisposeScope();
    }
}
