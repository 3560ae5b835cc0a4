using System.Text.Json;
using Easel.Inference.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Tests.Parity;

/// <summary>
/// CLIP text encoder goldens: CLIPTextModel outputs (last_hidden_state, pooler_output, every hidden state) for the
/// single-encoder families, and for SDXL both encoders plus the pipeline's encode_prompt (penultimate states
/// concatenated, pooled = text_embeds of the projection encoder).
/// </summary>
[Trait("Category", "Parity")]
public sealed class TextEncoderParityTests
{
    public static TheoryData<string> Cases => ParityFixtures.CasesOfKind("text_encoder");

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void Matches_transformers_clip_text_model(string caseName)
    {
        using var parity = ParityFixtures.Load(caseName);
        var tolerance = Tolerance.For(parity.Info.Kind);
        using var noGrad = torch.no_grad();
        try
        {
            if (parity.Has("out.last_hidden_state"))
            {
                using var model = ClipTextModel.FromPretrained(Path.Combine(parity.ModelDir, "text_encoder"));
                AssertSingleEncoder(parity, tolerance, model);
            }
            else if (parity.Has("out.te1_last_hidden_state"))
            {
                using var encoder1 = ClipTextModel.FromPretrained(Path.Combine(parity.ModelDir, "text_encoder"));
                using var encoder2 = ClipTextModelWithProjection.FromPretrained(Path.Combine(parity.ModelDir, "text_encoder_2"));
                AssertDualEncoders(parity, tolerance, encoder1, encoder2);
            }
            else
                Skip.If(true, $"{caseName}: no known output layout (tensors: {string.Join(", ", parity.TensorNames)}).");
        }
        catch (NotSupportedException e)
        {
            Skip.If(true, $"{caseName} needs an unsupported feature: {e.Message}");
        }
    }

    /// <summary>CLIPTextModel goldens of a single-encoder case, for a model however it was loaded.</summary>
    internal static void AssertSingleEncoder(ParityCase parity, Tolerance tolerance, ClipTextModel model)
    {
        using var scope = torch.NewDisposeScope();
        var inputIds = parity.Tensor("in.input_ids");
        using var output = model.forward(inputIds);

        tolerance.AssertClose(parity.Tensor("out.last_hidden_state"), output.LastHiddenState, "last_hidden_state");
        tolerance.AssertClose(parity.Tensor("out.pooler_output"), output.PoolerOutput, "pooler_output");
        // mid.hidden_states_i hold batch element 0 only.
        for (var i = 0; parity.Has($"mid.hidden_states_{i}"); i++)
        {
            Assert.True(i < output.HiddenStates.Count, $"golden has hidden state {i}, model produced {output.HiddenStates.Count}");
            tolerance.AssertClose(parity.Tensor($"mid.hidden_states_{i}"), output.HiddenStates[i][0..1], $"hidden_states[{i}]");
        }
    }

    /// <summary>SDXL dual-encoder goldens (and encode_prompt, with the case folder's tokenizers), for encoders however they were loaded.</summary>
    internal static void AssertDualEncoders(ParityCase parity, Tolerance tolerance, ClipTextModel encoder1, ClipTextModelWithProjection encoder2)
    {
        var root = parity.ModelDir;
        using var scope = torch.NewDisposeScope();

        using (var first = encoder1.forward(parity.Tensor("in.input_ids")))
        {
            tolerance.AssertClose(parity.Tensor("out.te1_last_hidden_state"), first.LastHiddenState, "te1 last_hidden_state");
            tolerance.AssertClose(parity.Tensor("out.te1_penultimate_hidden_state"), first.PenultimateHiddenState, "te1 hidden_states[-2]");
        }
        using (var second = encoder2.forward(parity.Tensor("in.input_ids_2")))
        {
            tolerance.AssertClose(parity.Tensor("out.te2_last_hidden_state"), second.LastHiddenState, "te2 last_hidden_state");
            tolerance.AssertClose(parity.Tensor("out.te2_penultimate_hidden_state"), second.PenultimateHiddenState, "te2 hidden_states[-2]");
            tolerance.AssertClose(parity.Tensor("out.te2_text_embeds"), second.TextEmbeds!, "te2 text_embeds");
        }

        if (!parity.Params.TryGetProperty("encode_prompt", out var encode) || !parity.Has("out.encode_prompt.prompt_embeds"))
            return;
        var tokenizer1 = ClipTokenizer.FromPretrained(Path.Combine(root, "tokenizer"));
        var tokenizer2 = ClipTokenizer.FromPretrained(Path.Combine(root, "tokenizer_2"));
        var prompt = StringOrNull(encode, "prompt") ?? "";
        var prompt2 = StringOrNull(encode, "prompt_2") ?? prompt;
        var (embeds, pooled) = EncodeSdxl(tokenizer1, tokenizer2, encoder1, encoder2, prompt, prompt2);
        tolerance.AssertClose(parity.Tensor("out.encode_prompt.prompt_embeds"), embeds, "encode_prompt prompt_embeds");
        tolerance.AssertClose(parity.Tensor("out.encode_prompt.pooled_prompt_embeds"), pooled, "encode_prompt pooled_prompt_embeds");

        if (!parity.Has("out.encode_prompt.negative_prompt_embeds"))
            return;
        var negative = StringOrNull(encode, "negative_prompt");
        Skip.If(negative is null, "encode_prompt with no negative prompt (force_zeros_for_empty_prompt) is not covered by this test.");
        var negative2 = StringOrNull(encode, "negative_prompt_2") ?? negative!;
        var (negativeEmbeds, negativePooled) = EncodeSdxl(tokenizer1, tokenizer2, encoder1, encoder2, negative!, negative2);
        tolerance.AssertClose(parity.Tensor("out.encode_prompt.negative_prompt_embeds"), negativeEmbeds, "encode_prompt negative_prompt_embeds");
        tolerance.AssertClose(parity.Tensor("out.encode_prompt.negative_pooled_prompt_embeds"), negativePooled, "encode_prompt negative_pooled_prompt_embeds");
    }

    // StableDiffusionXLPipeline.encode_prompt without clip_skip: penultimate hidden states of both encoders side by
    // side; the pooled embedding is the projection encoder's text_embeds.
    private static (Tensor Embeds, Tensor Pooled) EncodeSdxl(ClipTokenizer tokenizer1, ClipTokenizer tokenizer2,
        ClipTextModel encoder1, ClipTextModelWithProjection encoder2, string prompt, string prompt2)
    {
        using var first = encoder1.forward(tokenizer1.EncodeBatch([prompt]));
        using var second = encoder2.forward(tokenizer2.EncodeBatch([prompt2]));
        var embeds = torch.cat([first.PenultimateHiddenState, second.PenultimateHiddenState], -1); // [1, 77, hidden1 + hidden2]
        return (embeds, second.TextEmbeds!.clone());
    }

    private static string? StringOrNull(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
