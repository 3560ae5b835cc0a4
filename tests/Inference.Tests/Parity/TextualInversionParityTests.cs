using Easel.Inference.Customization.TextualInversion;
using Easel.Inference.Text;
using Easel.Inference.Text.Prompting;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Parity;

/// <summary>
/// diffusers' load_textual_inversion on the sd15 tokenizer and text encoder: the tokens are added after the base vocabulary,
/// the multi-vector token expands as maybe_convert_prompt does, and the text encoder's output with the added rows. Here the
/// tokens are added for one prompt encoder only; the cached tokenizer and text encoder are left as they were.
/// </summary>
[Trait("Category", "Parity")]
public sealed class TextualInversionParityTests
{
    public static TheoryData<string> Cases => ParityFixtures.CasesOfKind("textual_inversion");

    [Theory]
    [MemberData(nameof(Cases))]
    public void Diffusers_and_a1111_safetensors_embeddings_give_diffusers_ids_rows_and_hidden_states(string caseName)
    {
        using var parity = ParityFixtures.Load(caseName);
        var tolerance = Tolerance.For(parity.Info.Kind);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var tokenizer = ClipTokenizer.FromPretrained(ParityFixtures.PathOf("models/sd15/tokenizer"));
        using var textEncoder = ClipTextModel.FromPretrained(ParityFixtures.PathOf("models/sd15/text_encoder"));
        using var catToy = TextualInversionFile.Load(Path.Combine(parity.ModelDir, "learned_embeds.safetensors"));
        using var negStyle = TextualInversionFile.Load(Path.Combine(parity.ModelDir, "neg-style.safetensors"), "<neg-style>");
        Assert.Equal("<cat-toy>", catToy.Token);
        Assert.Equal(2, negStyle.VectorCount);
        tolerance.AssertClose(parity.Tensor("in.embedding_cat_toy"), catToy.Vectors[TextualInversionEmbedding.TextEncoder][0], "<cat-toy> vector");
        tolerance.AssertClose(parity.Tensor("in.embedding_neg_style"), negStyle.Vectors[TextualInversionEmbedding.TextEncoder], "<neg-style> vectors");

        var cached = new PromptEncoder(TextEncoderBranch.Create(tokenizer, textEncoder));
        var encoders = new[] { (TextualInversionEmbedding.TextEncoder, textEncoder.Config.HiddenSize) };
        var request = cached.WithAddedTokens(TextualInversionEmbedding.ForEncoders([catToy, negStyle], encoders));
        var branch = request.Branches[0];

        var prompt = parity.Params.GetProperty("prompt").GetString()!;
        var ids = branch.Tokenizer.Encode(prompt).InputIds;
        Assert.Equal(parity.Tensor("out.input_ids").data<long>().ToArray(), ids.ToArray());
        foreach (var added in parity.Params.GetProperty("added_tokens").EnumerateObject())
            Assert.Equal(added.Value.GetInt32(), branch.Tokenizer.IdOf(added.Name));

        using var embeddings = request.Encode(prompt);
        tolerance.AssertClose(parity.Tensor("out.last_hidden_state"), embeddings.Embeddings, "last_hidden_state");
        var baseSize = parity.Params.GetProperty("base_vocab_size").GetInt32();
        Assert.Equal(baseSize, tokenizer.BaseVocabularySize);
        var rows = torch.cat([catToy.Vectors[TextualInversionEmbedding.TextEncoder], negStyle.Vectors[TextualInversionEmbedding.TextEncoder]], 0);
        tolerance.AssertClose(parity.Tensor("out.token_embedding_rows_added"), rows, "token_embedding rows added");

        // The cached tokenizer and table are untouched: the token is unknown to it and the table keeps its size.
        Assert.Equal(tokenizer.UnkTokenId, tokenizer.IdOf("<cat-toy>"));
        Assert.Equal(baseSize, textEncoder.TextModel.Embeddings.TokenEmbedding.weight!.shape[0]);
    }

    [Fact]
    public void Pickled_a1111_embedding_is_refused_with_how_to_convert_it()
    {
        var path = ParityFixtures.PathOf("models/textual_inversion_sd15/neg-style.pt");
        var error = Assert.Throws<NotSupportedException>(() => TextualInversionFile.Load(path, "<neg-style>"));
        Assert.Contains("pickle", error.Message);
        Assert.Contains("save_file", error.Message);
        Assert.Contains(".safetensors", error.Message);
    }

    [Fact]
    public void Pickle_content_under_a_safetensors_name_is_refused()
    {
        var path = Path.Combine(Path.GetTempPath(), $"easel-ti-{Guid.NewGuid():N}.safetensors");
        File.Copy(ParityFixtures.PathOf("models/textual_inversion_sd15/neg-style.pt"), path);
        try
        {
            Assert.Throws<NotSupportedException>(() => TextualInversionFile.Load(path, "<neg-style>"));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
