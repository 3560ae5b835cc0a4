using Easel.Inference.Tests.Parity;
using Easel.Inference.Text;
using Easel.Inference.Text.Prompting;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Text.Prompting;

/// <summary>PromptEncoder on the tiny fixture encoders of ../shared/fixtures/diffusers-parity (EASEL_PARITY_FIXTURES overrides).</summary>
public sealed class PromptEncoderTests : IDisposable
{
    private readonly ClipTokenizer _tokenizer = ClipTokenizer.FromPretrained(ParityFixtures.PathOf("models/sd15/tokenizer"));
    private readonly ClipTextModel _model = ClipTextModel.FromPretrained(ParityFixtures.PathOf("models/sd15/text_encoder"));

    // No class-level dispose scope or no_grad: both are thread-bound, and the constructor may run on another thread.
    public void Dispose() => _model.Dispose();

    private PromptEncoder Sd15(ClipLayer? layer = null, EmphasisMode emphasis = EmphasisMode.Original) =>
        new(TextEncoderBranch.Create(_tokenizer, _model, layer), new PromptEncoderOptions { Emphasis = emphasis });

    // The plain path of StableDiffusionPipeline.EncodePrompt: tokenizer.Encode padded to 77 → last_hidden_state.
    private Tensor Plain(string prompt)
    {
        var ids = _tokenizer.Encode(prompt).InputIds.ToArray();
        return _model.forward(tensor(ids, [1, ids.Length], dtype: ScalarType.Int64)).LastHiddenState;
    }

    private ClipTextOutput Run(PromptChunk chunk) =>
        _model.forward(tensor(chunk.TokenIds.ToArray(), [1, chunk.TokenIds.Count], dtype: ScalarType.Int64));

    private static Tensor Chunk(Tensor embeddings, int index) => embeddings.narrow(1, 77L * index, 77);

    public static TheoryData<string> PlainPrompts() => new()
    {
        "", "a photograph of an astronaut riding a horse", "blurry, low quality", "a watercolor painting of a lighthouse",
        "a cat and a frog", "ratio 16:9, a) stray closer",
    };

    [Theory]
    [MemberData(nameof(PlainPrompts))]
    public void Encode_ShortPromptWithoutEmphasis_IsBitIdenticalToThePlainPath(string prompt)
    {
        using var encoded = Sd15().Encode(prompt);
        Assert.Equal(1, encoded.ChunkCount);
        Assert.True(Plain(prompt).BitEqual(encoded.Embeddings), "embeddings differ from tokenizer.Encode → LastHiddenState");
    }

    [Theory]
    [InlineData("a photograph of an astronaut riding a horse")]
    [InlineData("")]
    public void Encode_Sd2_ShortPromptWithoutEmphasis_IsBitIdenticalToThePlainPath(string prompt)
    {
        // SD 2.x pads with "!" (id 0) rather than EOS.
        var tokenizer = ClipTokenizer.FromPretrained(ParityFixtures.PathOf("models/sd2/tokenizer"));
        using var model = ClipTextModel.FromPretrained(ParityFixtures.PathOf("models/sd2/text_encoder"));
        var ids = tokenizer.Encode(prompt).InputIds.ToArray();
        var plain = model.forward(tensor(ids, [1, ids.Length], dtype: ScalarType.Int64)).LastHiddenState;
        using var encoded = new PromptEncoder(TextEncoderBranch.Create(tokenizer, model)).Encode(prompt);
        Assert.True(plain.BitEqual(encoded.Embeddings));
    }

    [Fact]
    public void Encode_SeventyFiveTokenPrompt_IsBitIdenticalToThePlainPath()
    {
        var prompt = PromptChunkerTests.LongPrompt(_tokenizer, 75);
        using var encoded = Sd15().Encode(prompt);
        Assert.Equal(1, encoded.ChunkCount);
        Assert.True(Plain(prompt).BitEqual(encoded.Embeddings));
    }

    [Fact]
    public void Encode_Copies_RepeatAlongTheBatchAxis()
    {
        const string prompt = "a photograph of an astronaut riding a horse";
        using var encoded = Sd15().Encode(prompt, copies: 3);
        Assert.Equal([3L, 77, 32], encoded.Embeddings.shape);
        Assert.Equal([3L, 32], encoded.Pooled.shape);
        Assert.True(Plain(prompt).repeat(3, 1, 1).BitEqual(encoded.Embeddings));
    }

    [Fact]
    public void Encode_TwoHundredTokens_ConcatenatesThreeChunksAlongTheSequence()
    {
        var prompt = PromptChunkerTests.LongPrompt(_tokenizer, 200);
        var encoder = Sd15();
        var chunks = encoder.Chunk(prompt);
        using var encoded = encoder.Encode(prompt);
        Assert.Equal(3, encoded.ChunkCount);
        Assert.Equal([1L, 231, 32], encoded.Embeddings.shape);
        for (var i = 0; i < 3; i++)
            Assert.True(Run(chunks[i]).LastHiddenState.BitEqual(Chunk(encoded.Embeddings, i)), $"chunk {i}");
        // The pooled output is the first chunk's.
        Assert.True(Run(chunks[0]).PoolerOutput.BitEqual(encoded.Pooled));
    }

    [Fact]
    public void Encode_Weight_ScalesThatTokenThenRestoresTheMean()
    {
        const string prompt = "a (cat:1.3) on a mat";
        var encoder = Sd15();
        var chunk = Assert.Single(encoder.Chunk(prompt));
        var weighted = chunk.Weights.Select((w, i) => (w, i)).Where(p => p.w != 1f).Select(p => p.i).ToList();
        Assert.NotEmpty(weighted);
        Assert.All(weighted, i => Assert.Equal(1.3f, chunk.Weights[i]));

        var z = Run(chunk).LastHiddenState;                  // [1, 77, D], unweighted
        using var encoded = encoder.Encode(prompt);
        var result = encoded.Embeddings;

        Assert.Equal(z.mean().item<float>(), result.mean().item<float>(), 1e-6);
        // Every token is z · w · c with one c for the whole chunk.
        var w = tensor(chunk.Weights.ToArray(), [1, 77, 1]);
        var scaled = z * w;
        var c = z.mean() / scaled.mean();
        Assert.True((scaled * c).allclose(result, rtol: 1e-5, atol: 1e-6));
        var ratio = result / z;                              // [1, 77, D]
        var weightedRatio = ratio[0, weighted[0]].mean().item<float>();
        var otherRatio = ratio[0, 0].mean().item<float>();
        Assert.Equal(1.3, weightedRatio / otherRatio, 1e-4);
    }

    [Fact]
    public void ApplyWeights_RestoresTheMeanOfTheWholeTensor()
    {
        var generator = new Generator(seed: 7);
        var z = randn([2, 77, 16], generator: generator) + 0.25;
        var weights = ones(1, 77, 1);
        weights[0, 5, 0] = 1.3f;
        weights[0, 9, 0] = 1 / 1.1f;
        var result = PromptEncoder.ApplyWeights(z, weights, restoreMean: true);
        Assert.Equal(z.mean().item<float>(), result.mean().item<float>(), 1e-6);
        var ratio = (result[.., 5] / z[.., 5]).mean().item<float>() / (result[.., 0] / z[.., 0]).mean().item<float>();
        Assert.Equal(1.3, ratio, 1e-4);

        var noNorm = PromptEncoder.ApplyWeights(z, weights, restoreMean: false);
        Assert.True((z * weights).BitEqual(noNorm));
    }

    [Fact]
    public void Encode_NoNorm_OnlyMultiplies()
    {
        const string prompt = "a [dog] and (a cat)";
        var encoder = Sd15(emphasis: EmphasisMode.NoNorm);
        var chunk = Assert.Single(encoder.Chunk(prompt));
        using var encoded = encoder.Encode(prompt);
        var expected = Run(chunk).LastHiddenState * tensor(chunk.Weights.ToArray(), [1, 77, 1]);
        Assert.True(expected.BitEqual(encoded.Embeddings));
    }

    [Fact]
    public void Encode_EmphasisNone_ReadsBracketsLiterally()
    {
        const string prompt = "a (cat:1.3)";
        using var encoded = Sd15(emphasis: EmphasisMode.None).Encode(prompt);
        Assert.True(Plain(prompt).BitEqual(encoded.Embeddings));
    }

    [Fact]
    public void Encode_ClipSkip2_IsTheFinalNormOfThePenultimateState()
    {
        const string prompt = "a photograph of an astronaut riding a horse";
        var output = _model.forward(tensor(_tokenizer.Encode(prompt).InputIds.ToArray(), [1, 77], dtype: ScalarType.Int64));
        using var skipped = Sd15(ClipLayer.ClipSkip(2)).Encode(prompt);
        Assert.True(_model.TextModel.FinalLayerNorm.forward(output.HiddenStates[^2]).BitEqual(skipped.Embeddings));
        using var penultimate = Sd15(ClipLayer.Penultimate).Encode(prompt);
        Assert.True(output.HiddenStates[^2].BitEqual(penultimate.Embeddings));
        using var last = Sd15(ClipLayer.ClipSkip(1)).Encode(prompt);
        Assert.True(output.LastHiddenState.BitEqual(last.Embeddings));
    }

    [Fact]
    public void Branch_ClipSkipBeyondTheLayerCount_IsRefused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => TextEncoderBranch.Create(_tokenizer, _model, ClipLayer.ClipSkip(_model.Config.NumHiddenLayers + 1)));

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void EncodeForGuidance_PadsTheShorterWithEncodedEmptyChunks(bool longPositive)
    {
        var longPrompt = PromptChunkerTests.LongPrompt(_tokenizer, 100);
        var encoder = Sd15();
        var (prompt, negative) = longPositive ? (longPrompt, "blurry, low quality") : ("a cat", longPrompt);
        using var pair = encoder.EncodeForGuidance(prompt, negative, copies: 2);
        Assert.Equal([2L, 154, 32], pair.Conditional.Embeddings.shape);
        Assert.Equal([2L, 154, 32], pair.Negative.Embeddings.shape);
        Assert.Equal(2, pair.Conditional.ChunkCount);
        Assert.Equal(2, pair.Negative.ChunkCount);

        var shortOne = longPositive ? pair.Negative : pair.Conditional;
        var shortText = longPositive ? negative : prompt;
        Assert.True(Plain(shortText).repeat(2, 1, 1).BitEqual(Chunk(shortOne.Embeddings, 0)));
        Assert.True(Plain("").repeat(2, 1, 1).BitEqual(Chunk(shortOne.Embeddings, 1)));
        // Stacks for classifier-free guidance.
        Assert.Equal([4L, 154, 32], cat([pair.Negative.Embeddings, pair.Conditional.Embeddings], 0).shape);
    }

    [Fact]
    public void PadToChunkCount_SameCount_ReturnsTheInput_FewerIsRefused()
    {
        var encoder = Sd15();
        var encoded = encoder.Encode("a cat");
        Assert.Same(encoded, encoder.PadToChunkCount(encoded, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => encoder.PadToChunkCount(encoded, 0));
        using var padded = encoder.PadToChunkCount(encoded, 3);
        Assert.Equal([1L, 231, 32], padded.Embeddings.shape);
        Assert.Equal(3, padded.ChunkCount);
    }

    [Fact]
    public void Encode_SecondPromptWithOneEncoder_IsRefused() =>
        Assert.Throws<ArgumentException>(() => Sd15().Encode("a", secondPrompt: "b"));

    [Fact]
    public void Encode_Sdxl_MatchesTheDiffusersEncodePromptGolden()
    {
        using var parity = ParityFixtures.Load("text_encoder_sdxl");
        var root = parity.ModelDir;
        using var encoder1 = ClipTextModel.FromPretrained(Path.Combine(root, "text_encoder"));
        using var encoder2 = ClipTextModelWithProjection.FromPretrained(Path.Combine(root, "text_encoder_2"));
        var encoder = new PromptEncoder(
            TextEncoderBranch.Create(ClipTokenizer.FromPretrained(Path.Combine(root, "tokenizer")), encoder1, ClipLayer.Penultimate),
            TextEncoderBranch.Create(ClipTokenizer.FromPretrained(Path.Combine(root, "tokenizer_2")), encoder2, ClipLayer.Penultimate));
        var parameters = parity.Params.GetProperty("encode_prompt");
        string? Text(string name) => parameters.TryGetProperty(name, out var v) && v.ValueKind == System.Text.Json.JsonValueKind.String ? v.GetString() : null;

        using var pair = encoder.EncodeForGuidance(Text("prompt")!, Text("negative_prompt")!,
            secondPrompt: Text("prompt_2"), secondNegativePrompt: Text("negative_prompt_2"));
        var tolerance = Tolerance.For("text_encoder");
        tolerance.AssertClose(parity.Tensor("out.encode_prompt.prompt_embeds"), pair.Conditional.Embeddings, "prompt_embeds");
        tolerance.AssertClose(parity.Tensor("out.encode_prompt.pooled_prompt_embeds"), pair.Conditional.Pooled, "pooled_prompt_embeds");
        tolerance.AssertClose(parity.Tensor("out.encode_prompt.negative_prompt_embeds"), pair.Negative.Embeddings, "negative_prompt_embeds");
        tolerance.AssertClose(parity.Tensor("out.encode_prompt.negative_pooled_prompt_embeds"), pair.Negative.Pooled, "negative_pooled_prompt_embeds");
    }

    [Fact]
    public void Encode_SdxlLongPrompt_ConcatenatesBothEncodersPerChunk()
    {
        var root = ParityFixtures.PathOf("models/sdxl");
        using var encoder1 = ClipTextModel.FromPretrained(Path.Combine(root, "text_encoder"));
        using var encoder2 = ClipTextModelWithProjection.FromPretrained(Path.Combine(root, "text_encoder_2"));
        var tokenizer1 = ClipTokenizer.FromPretrained(Path.Combine(root, "tokenizer"));
        var tokenizer2 = ClipTokenizer.FromPretrained(Path.Combine(root, "tokenizer_2"));
        var encoder = new PromptEncoder(
            TextEncoderBranch.Create(tokenizer1, encoder1, ClipLayer.Penultimate),
            TextEncoderBranch.Create(tokenizer2, encoder2, ClipLayer.Penultimate));
        var prompt = PromptChunkerTests.LongPrompt(tokenizer1, 120) + " BREAK a (red:1.2) sky";
        using var encoded = encoder.Encode(prompt);
        Assert.Equal(3, encoded.ChunkCount);
        Assert.Equal([1L, 231, encoder1.Config.HiddenSize + encoder2.Config.HiddenSize], encoded.Embeddings.shape);
        Assert.Equal([1L, encoder2.Config.ProjectionDim], encoded.Pooled.shape);

        var first = new PromptChunker(tokenizer2).Chunk(prompt)[0];
        var output2 = encoder2.forward(tensor(first.TokenIds.ToArray(), [1, 77], dtype: ScalarType.Int64));
        Assert.True(output2.TextEmbeds!.BitEqual(encoded.Pooled), "pooled = second encoder's text_embeds of chunk 0");
    }
}

internal static class TensorAssertions
{
    /// <summary>Same shape, dtype and every element bit for bit equal (no tolerance).</summary>
    public static bool BitEqual(this Tensor actual, Tensor expected) =>
        actual.dtype == expected.dtype && actual.shape.SequenceEqual(expected.shape) && actual.eq(expected).all().item<bool>();
}
