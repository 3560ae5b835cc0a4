using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Text.Prompting;

/// <summary>
/// Encodes prompts of any length with A1111's emphasis syntax: the prompt is chunked into 77-token inputs
/// (<see cref="PromptChunker"/>), each chunk runs through the text encoder on its own, the chunks' hidden states are
/// weighted and concatenated along the sequence axis. SDXL's two encoders each do this with their own tokenizer and
/// their states are concatenated along the feature axis.
/// </summary>
/// <remarks>
/// <para>Weighting (<see cref="EmphasisMode.Original"/>, per chunk as A1111): z ← z · w (each token's vector times
/// its weight), then z ← z · (mean(z_before) / mean(z)) so the chunk's overall mean is unchanged. A chunk whose
/// weights are all 1 is left untouched, so a short prompt without emphasis gives exactly the plain diffusers
/// encoding (<c>tokenizer(text, padding="max_length")</c> → hidden state).</para>
/// <para>Usage, SD 1.x/2.x:
/// <code>
/// var encoder = new PromptEncoder(TextEncoderBranch.Create(tokenizer, textEncoder));   // ClipLayer.ClipSkip(2) for clip skip 2
/// using var pair = encoder.EncodeForGuidance(prompt, negativePrompt, copies: n);
/// var conditioning = torch.cat([pair.Negative.Embeddings, pair.Conditional.Embeddings], 0);
/// </code>
/// SDXL: <c>new PromptEncoder(TextEncoderBranch.Create(tokenizer, textEncoder, ClipLayer.Penultimate),
/// TextEncoderBranch.Create(tokenizer2, textEncoder2, ClipLayer.Penultimate))</c>; the embeddings are [n, 77k, 768 + 1280]
/// and <see cref="PromptEmbeddings.Pooled"/> is the second encoder's text_embeds.</para>
/// </remarks>
public sealed class PromptEncoder
{
    private readonly TextEncoderBranch[] _branches;
    private readonly PromptChunker[] _chunkers;

    /// <summary>A single text encoder (SD 1.x, SD 2.x).</summary>
    public PromptEncoder(TextEncoderBranch encoder, PromptEncoderOptions? options = null)
        : this([encoder], options)
    {
    }

    /// <summary>Two text encoders (SDXL): states concatenated along D, pooled output from <paramref name="second"/>.</summary>
    public PromptEncoder(TextEncoderBranch first, TextEncoderBranch second, PromptEncoderOptions? options = null)
        : this([first, second], options)
    {
    }

    private PromptEncoder(TextEncoderBranch[] branches, PromptEncoderOptions? options)
    {
        foreach (var branch in branches)
            ArgumentNullException.ThrowIfNull(branch);
        Options = options ?? new PromptEncoderOptions();
        _branches = branches;
        _chunkers = branches.Select(b => new PromptChunker(b.Tokenizer, Options.CommaBacktrack)).ToArray();
    }

    public PromptEncoderOptions Options { get; }

    /// <summary>The text encoders, in the order their states are concatenated.</summary>
    public IReadOnlyList<TextEncoderBranch> Branches => _branches;

    /// <summary>
    /// An encoder for one request whose prompts (conditional and negative) may use added tokens — textual-inversion
    /// embeddings — in every text encoder: <paramref name="tokensPerBranch"/>[b] are branch b's tokens and rows
    /// (<see cref="TextEncoderBranch.WithAddedTokens"/>). This encoder and its models stay as they are, so requests without
    /// the tokens are encoded exactly as before.
    /// </summary>
    public PromptEncoder WithAddedTokens(IReadOnlyList<IReadOnlyList<AddedTokenEmbedding>> tokensPerBranch)
    {
        ArgumentNullException.ThrowIfNull(tokensPerBranch);
        if (tokensPerBranch.Count != _branches.Length)
            throw new ArgumentException($"Added tokens are given for {tokensPerBranch.Count} text encoders; this encoder has {_branches.Length}.", nameof(tokensPerBranch));
        return new PromptEncoder(_branches.Select((b, i) => b.WithAddedTokens(tokensPerBranch[i])).ToArray(), Options);
    }

    /// <summary>The chunks the first encoder's tokenizer makes of a prompt (for token counts and diagnostics).</summary>
    public IReadOnlyList<PromptChunk> Chunk(string prompt) => ChunkWith(_chunkers[0], prompt);

    /// <summary>Encodes one prompt, repeated <paramref name="copies"/> times along the batch axis.</summary>
    /// <param name="secondPrompt">SDXL only: the second encoder's prompt (diffusers' <c>prompt_2</c>); null = <paramref name="prompt"/>.</param>
    public PromptEmbeddings Encode(string prompt, int copies = 1, string? secondPrompt = null)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentOutOfRangeException.ThrowIfLessThan(copies, 1);
        if (secondPrompt is not null && _branches.Length < 2)
            throw new ArgumentException("A second prompt needs a second text encoder.", nameof(secondPrompt));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();

        var perBranch = _chunkers.Select((c, b) => ChunkWith(c, b == 1 ? secondPrompt ?? prompt : prompt)).ToArray();
        var chunkCount = perBranch.Max(chunks => chunks.Count);
        var states = new Tensor[_branches.Length];
        Tensor? pooled = null;
        for (var b = 0; b < _branches.Length; b++)
        {
            var chunks = perBranch[b];
            var encoded = new List<Tensor>(chunkCount);
            for (var i = 0; i < chunkCount; i++)
            {
                // Branches whose tokenizer made fewer chunks are padded with the empty chunk.
                var chunk = i < chunks.Count ? chunks[i] : _chunkers[b].EmptyChunk();
                var (hidden, chunkPooled) = EncodeChunk(_branches[b], chunk);
                encoded.Add(hidden);
                if (i == 0)
                    pooled = chunkPooled; // the last branch's wins: SDXL's pooled output is the second encoder's
            }
            states[b] = encoded.Count == 1 ? encoded[0] : cat(encoded, 1);  // [1, 77·k, D_b]
        }
        var embeddings = states.Length == 1 ? states[0] : cat(states, -1); // [1, 77·k, ΣD_b]
        if (copies > 1)
        {
            embeddings = embeddings.repeat(copies, 1, 1);
            pooled = pooled!.repeat(copies, 1);
        }
        return new PromptEmbeddings(embeddings.MoveToOuterDisposeScope(), pooled!.MoveToOuterDisposeScope(), chunkCount);
    }

    /// <summary>
    /// Encodes the prompt and the negative prompt for classifier-free guidance and pads the shorter with encoded empty
    /// chunks (as A1111 pads cond/uncond), so both have the same sequence length and can be concatenated on the batch axis.
    /// </summary>
    /// <param name="secondPrompt">SDXL: diffusers' <c>prompt_2</c>; null = <paramref name="prompt"/>.</param>
    /// <param name="secondNegativePrompt">SDXL: diffusers' <c>negative_prompt_2</c>; null = <paramref name="negativePrompt"/>.</param>
    public GuidanceEmbeddings EncodeForGuidance(string prompt, string negativePrompt, int copies = 1,
        string? secondPrompt = null, string? secondNegativePrompt = null)
    {
        var conditional = Encode(prompt, copies, secondPrompt);
        try
        {
            var negative = Encode(negativePrompt, copies, secondNegativePrompt);
            var chunkCount = Math.Max(conditional.ChunkCount, negative.ChunkCount);
            return new GuidanceEmbeddings(PadToChunkCount(conditional, chunkCount), PadToChunkCount(negative, chunkCount));
        }
        catch
        {
            conditional.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Appends encoded empty chunks until <paramref name="embeddings"/> has <paramref name="chunkCount"/> chunks. Returns
    /// the same instance when it already has that many; otherwise a new one, and the input is disposed.
    /// </summary>
    public PromptEmbeddings PadToChunkCount(PromptEmbeddings embeddings, int chunkCount)
    {
        ArgumentNullException.ThrowIfNull(embeddings);
        if (chunkCount < embeddings.ChunkCount)
            throw new ArgumentOutOfRangeException(nameof(chunkCount), chunkCount, $"The embeddings already have {embeddings.ChunkCount} chunks.");
        if (chunkCount == embeddings.ChunkCount)
            return embeddings;
        using (var scope = NewDisposeScope())
        {
            var copies = embeddings.Embeddings.shape[0];
            using var empty = Encode("", (int)copies);
            var padding = empty.Embeddings.to(embeddings.Embeddings.dtype, embeddings.Embeddings.device);
            var parts = new List<Tensor> { embeddings.Embeddings };
            parts.AddRange(Enumerable.Repeat(padding, chunkCount - embeddings.ChunkCount));
            var padded = cat(parts, 1).MoveToOuterDisposeScope(); // [copies, 77·chunkCount, D]
            var pooled = embeddings.Pooled.alias().MoveToOuterDisposeScope();
            embeddings.Dispose();
            return new PromptEmbeddings(padded, pooled, chunkCount);
        }
    }

    private IReadOnlyList<PromptChunk> ChunkWith(PromptChunker chunker, string prompt) =>
        chunker.Chunk(prompt, emphasis: Options.Emphasis != EmphasisMode.None);

    // One chunk through one encoder: hidden [1, 77, D] (weighted) and pooled [1, P].
    private (Tensor Hidden, Tensor Pooled) EncodeChunk(TextEncoderBranch branch, PromptChunk chunk)
    {
        var ids = tensor(chunk.TokenIds.ToArray(), [1, chunk.TokenIds.Count], dtype: ScalarType.Int64);
        var (hidden, pooled) = branch.Run(ids);
        if (Options.Emphasis == EmphasisMode.None || chunk.IsUnweighted)
            return (hidden, pooled); // no arithmetic at all: bit-identical to the unweighted encoding
        var weights = tensor(chunk.Weights.ToArray(), [1, chunk.Weights.Count, 1], dtype: ScalarType.Float32, device: hidden.device);
        return (ApplyWeights(hidden, weights, Options.Emphasis == EmphasisMode.Original), pooled);
    }

    /// <summary>
    /// z · w per token, then (when <paramref name="restoreMean"/>) rescaled so the mean over the whole tensor is the
    /// original's. Computed in float32, returned in z's dtype.
    /// </summary>
    /// <param name="z">[batch, seq, D].</param>
    /// <param name="weights">[batch or 1, seq, 1].</param>
    internal static Tensor ApplyWeights(Tensor z, Tensor weights, bool restoreMean)
    {
        var z32 = z.to(ScalarType.Float32);
        var weighted = z32 * weights.to(ScalarType.Float32);    // [batch, seq, D]
        if (restoreMean)
            weighted = weighted * (z32.mean() / weighted.mean());
        return weighted.to(z.dtype);
    }
}

/// <summary>The conditional and negative embeddings of one request, padded to the same number of chunks.</summary>
public sealed record GuidanceEmbeddings(PromptEmbeddings Conditional, PromptEmbeddings Negative) : IDisposable
{
    public void Dispose()
    {
        Conditional.Dispose();
        Negative.Dispose();
    }
}
