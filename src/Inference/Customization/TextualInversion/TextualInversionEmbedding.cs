using Easel.Inference.Text.Prompting;
using static TorchSharp.torch;

namespace Easel.Inference.Customization.TextualInversion;

/// <summary>
/// A textual-inversion embedding (Gal et al. 2022): a new token and the token-embedding vectors it stands for, one set per
/// text encoder (SD 1.x/2.x have one; SDXL's files carry <c>clip_l</c> for <see cref="TextEncoder"/> and <c>clip_g</c> for
/// <see cref="TextEncoder2"/>). Put it in <see cref="Pipelines.GenerationRequest.Embeddings"/> and the request's prompt and
/// negative prompt may use <see cref="Token"/>; other requests never see it. The embedding owns its tensors.
/// </summary>
public sealed class TextualInversionEmbedding : IDisposable
{
    /// <summary>The text encoder of SD 1.x/2.x and SDXL's first (CLIP ViT-L) encoder, by its diffusers component name.</summary>
    public const string TextEncoder = "text_encoder";

    /// <summary>SDXL's second (OpenCLIP ViT-bigG) encoder, the only one of the refiner.</summary>
    public const string TextEncoder2 = "text_encoder_2";

    /// <param name="token">What prompts write, e.g. "&lt;cat-toy&gt;".</param>
    /// <param name="vectors">Per text encoder (<see cref="TextEncoder"/>, <see cref="TextEncoder2"/>): [n, hidden] or [hidden]; owned from now on.</param>
    /// <param name="format">The layout it was read from or is written in ("diffusers", "a1111").</param>
    /// <exception cref="ArgumentException">No vectors, vectors that are not 1-D or 2-D, or encoders with different vector counts.</exception>
    public TextualInversionEmbedding(string token, IReadOnlyDictionary<string, Tensor> vectors, string format)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(token);
        ArgumentNullException.ThrowIfNull(vectors);
        if (vectors.Count == 0)
            throw new ArgumentException($"Embedding '{token}' has no vectors.", nameof(vectors));
        var rows = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (encoder, tensor) in vectors)
        {
            if (tensor.dim() is not (1 or 2) || tensor.numel() == 0)
                throw new ArgumentException($"Embedding '{token}' has vectors of shape [{string.Join(", ", tensor.shape)}] for {encoder}; expected [n, dim] or [dim].", nameof(vectors));
            rows[encoder] = tensor;
        }
        static long Count(Tensor t) => t.dim() == 1 ? 1 : t.shape[0];
        if (rows.Values.Select(Count).Distinct().Count() > 1)
            throw new ArgumentException($"Embedding '{token}' has a different number of vectors per text encoder ({string.Join(", ", rows.Select(r => $"{r.Key}: {Count(r.Value)}"))}).", nameof(vectors));
        Token = token;
        // Owned from here on: out of any dispose scope, so a caller's scope cannot free a request's vectors under it.
        Vectors = rows.ToDictionary(r => r.Key, r => AsRows(r.Value).DetachFromDisposeScope(), StringComparer.Ordinal);
        Format = format;
    }

    public string Token { get; }

    // [dim] → [1, dim] (diffusers' single-vector files); the 1-D handle is released, its storage lives on in the view.
    private static Tensor AsRows(Tensor vectors)
    {
        if (vectors.dim() == 2)
            return vectors;
        var rows = vectors.unsqueeze(0);
        vectors.Dispose();
        return rows;
    }

    /// <summary>[n, hidden] per text encoder component name.</summary>
    public IReadOnlyDictionary<string, Tensor> Vectors { get; }

    public string Format { get; }

    /// <summary>How many token positions the token takes in a prompt (its vectors per encoder).</summary>
    public int VectorCount => (int)Vectors.Values.First().shape[0];

    /// <summary>The tokens a prompt's <see cref="Token"/> becomes: itself, then <c>token_1</c> … <c>token_{n−1}</c> (diffusers' naming).</summary>
    public IReadOnlyList<string> ExpandedTokens => Enumerable.Range(0, VectorCount).Select(i => i == 0 ? Token : $"{Token}_{i}").ToList();

    /// <summary>The vector width per encoder (its hidden size).</summary>
    public IReadOnlyDictionary<string, int> Dimensions => Vectors.ToDictionary(v => v.Key, v => (int)v.Value.shape[1]);

    /// <summary>
    /// The added tokens of a request's embeddings for each of a model's text encoders, checked against them: every encoder
    /// needs vectors of its hidden size (an embedding with vectors for an encoder the model lacks uses the others: the
    /// refiner takes an SDXL embedding's clip_g vectors), and no token may come twice.
    /// </summary>
    /// <param name="encoders">The model's text encoders in its prompt encoder's branch order.</param>
    /// <exception cref="ArgumentException">An encoder without vectors, a vector width that is not the encoder's hidden size, or a repeated token.</exception>
    internal static IReadOnlyList<IReadOnlyList<AddedTokenEmbedding>> ForEncoders(IReadOnlyList<TextualInversionEmbedding> embeddings,
        IReadOnlyList<(string Name, int HiddenSize)> encoders)
    {
        var repeated = embeddings.GroupBy(e => e.Token, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (repeated is not null)
            throw new ArgumentException($"Embedding token '{repeated.Key}' is given {repeated.Count()} times in one request.", nameof(embeddings));
        var perEncoder = new List<IReadOnlyList<AddedTokenEmbedding>>(encoders.Count);
        foreach (var (name, hiddenSize) in encoders)
        {
            var tokens = new List<AddedTokenEmbedding>(embeddings.Count);
            foreach (var embedding in embeddings)
            {
                if (!embedding.Vectors.TryGetValue(name, out var rows))
                    throw new ArgumentException(
                        $"Embedding '{embedding.Token}' has vectors for {string.Join(" and ", embedding.Vectors.Keys)} but this model's {name} needs its own " +
                        $"(an embedding for another model family, e.g. SD 1.x on SDXL).", nameof(embeddings));
                if (rows.shape[1] != hiddenSize)
                    throw new ArgumentException(
                        $"Embedding '{embedding.Token}' has {rows.shape[1]}-dim vectors but this model's {name} has hidden size {hiddenSize}: " +
                        "it was trained for another base model.", nameof(embeddings));
                tokens.Add(new AddedTokenEmbedding(embedding.Token, rows));
            }
            perEncoder.Add(tokens);
        }
        return perEncoder;
    }

    public void Dispose()
    {
        foreach (var tensor in Vectors.Values)
            tensor.Dispose();
    }
}
