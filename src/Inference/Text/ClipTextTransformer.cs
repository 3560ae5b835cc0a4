using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Easel.Inference.Text;

/// <summary>
/// transformers' <c>CLIPTextTransformer</c> (the <c>text_model</c> of the checkpoint): embeddings, causal encoder,
/// final layer norm and the EOS pooling.
/// </summary>
public sealed class ClipTextTransformer : nn.Module<Tensor, ClipTextOutput>
{
    private readonly ClipTextEmbeddings embeddings;
    private readonly ClipEncoder encoder;
    private readonly LayerNorm final_layer_norm;
    private readonly int _eosTokenId;

    public ClipTextTransformer(ClipTextConfig config) : base(nameof(ClipTextTransformer))
    {
        embeddings = new ClipTextEmbeddings(config);
        encoder = new ClipEncoder(config);
        final_layer_norm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        _eosTokenId = config.EosTokenId;
        RegisterComponents();
    }

    public ClipTextEmbeddings Embeddings => embeddings;

    /// <summary>The final layer norm, for clip-skip: <c>FinalLayerNorm(HiddenStates[^(k+1)])</c>.</summary>
    public LayerNorm FinalLayerNorm => final_layer_norm;

    /// <param name="inputIds">[batch, seq] int64 token ids on any device (no attention mask: SD pipelines never pass one).</param>
    public override ClipTextOutput forward(Tensor inputIds) => forward(inputIds, null);

    /// <param name="inputIds">[batch, seq] int64 token ids; ids from vocab_size on index <paramref name="addedTokenRows"/>.</param>
    /// <param name="addedTokenRows">[k, hidden] token-embedding rows of one call's added tokens (textual inversion), or null.</param>
    public ClipTextOutput forward(Tensor inputIds, Tensor? addedTokenRows)
    {
        using var scope = NewDisposeScope();
        inputIds = inputIds.to(final_layer_norm.weight!.device);         // ids may come from the CPU tokenizer
        var hidden = embeddings.forward(inputIds, addedTokenRows);      // [batch, seq, hidden]
        var bias = CausalBias(inputIds.shape[^1], hidden.dtype, hidden.device); // [1, 1, seq, seq]
        var states = encoder.forward(hidden, bias);
        var last = final_layer_norm.forward(states[^1]);                 // [batch, seq, hidden]
        var pooled = last[arange(last.shape[0], device: last.device), PoolingPositions(inputIds)]; // [batch, hidden]
        return new ClipTextOutput(
            last.MoveToOuterDisposeScope(),
            pooled.MoveToOuterDisposeScope(),
            states.Select(s => s.MoveToOuterDisposeScope()).ToList());
    }

    // transformers: eos_token_id == 2 marks configs from before the EOS id was stored correctly; there the pooled
    // token is the highest id (EOS is the largest id in CLIP's vocabulary). Otherwise, the first EOS.
    private Tensor PoolingPositions(Tensor inputIds) => _eosTokenId == 2
        ? inputIds.to(ScalarType.Int32).argmax(-1)
        : inputIds.eq(_eosTokenId).to(ScalarType.Int32).argmax(-1);

    // transformers' _create_4d_causal_attention_mask: the dtype's most negative value above the diagonal, 0 elsewhere.
    private static Tensor CausalBias(long length, ScalarType dtype, Device device)
    {
        var min = torch.finfo(dtype).min;
        return full(length, length, min, dtype: dtype, device: device).triu(1).view(1, 1, length, length);
    }
}
