using Easel.Inference.Text;
using TorchSharp;

namespace Easel.Inference.Tests.Parity;

/// <summary>
/// transformers' slow CLIPTokenizer goldens: padded/truncated ids, attention mask and untruncated ids, once with the
/// folder's pad token (pad_eos) and once with pad_token='!' (pad_bang, as SD2.x and SDXL's tokenizer_2 use). Exact.
/// </summary>
[Trait("Category", "Parity")]
public sealed class TokenizerParityTests
{
    public static TheoryData<string> Cases => ParityFixtures.CasesOfKind("tokenizer");

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void Matches_transformers_slow_tokenizer(string caseName)
    {
        using var parity = ParityFixtures.Load(caseName);
        var prompts = parity.Params.GetProperty("prompts").EnumerateArray().Select(p => p.GetString()!).ToList();

        var configured = ClipTokenizer.FromPretrained(parity.ModelDir);
        // pad_eos pads with the EOS token; a folder configured with another pad token is overridden to match.
        var padEos = configured.PadTokenId == configured.EosTokenId
            ? configured
            : ClipTokenizer.FromPretrained(parity.ModelDir, configured.EosToken);
        var padBang = ClipTokenizer.FromPretrained(parity.ModelDir, "!");

        AssertVariant(parity, "pad_eos", padEos, prompts);
        AssertVariant(parity, "pad_bang", padBang, prompts);
    }

    /// <summary>Asserts that <paramref name="tokenizer"/> reproduces the case's <paramref name="variant"/> ("pad_eos" or "pad_bang") goldens exactly.</summary>
    internal static void AssertVariant(ParityCase parity, string variant, ClipTokenizer tokenizer, IReadOnlyList<string> prompts)
    {
        var expectedPad = parity.Params.GetProperty(variant == "pad_eos" ? "pad_token_id_eos_variant" : "pad_token_id_bang_variant").GetInt64();
        Assert.Equal(expectedPad, tokenizer.PadTokenId);
        Assert.Equal(parity.Params.GetProperty("bos_token_id").GetInt64(), tokenizer.BosTokenId);
        Assert.Equal(parity.Params.GetProperty("eos_token_id").GetInt64(), tokenizer.EosTokenId);

        var ids = Rows(parity, $"out.{variant}.input_ids");
        var mask = Rows(parity, $"out.{variant}.attention_mask");
        var untruncated = Rows(parity, $"out.{variant}.input_ids_untruncated");
        using var lengthTensor = parity.Tensor($"out.{variant}.untruncated_length");
        var lengths = lengthTensor.data<long>().ToArray();
        Assert.Equal(prompts.Count, ids.Count);

        for (var i = 0; i < prompts.Count; i++)
        {
            var actual = tokenizer.Encode(prompts[i]);
            var what = $"{variant} prompt {i} ({Describe(prompts[i])})";
            AssertSameIds(ids[i], actual.InputIds, tokenizer, $"{what} input_ids");
            AssertSameIds(mask[i], actual.AttentionMask, null, $"{what} attention_mask");
            Assert.True(lengths[i] == actual.UntruncatedIds.Count,
                $"{what}: untruncated length {actual.UntruncatedIds.Count}, golden {lengths[i]}");
            AssertSameIds(untruncated[i].Take((int)lengths[i]).ToArray(), actual.UntruncatedIds, tokenizer, $"{what} input_ids_untruncated");
            Assert.All(untruncated[i].Skip((int)lengths[i]), v => Assert.Equal(-1L, v));
        }
    }

    private static List<long[]> Rows(ParityCase parity, string name)
    {
        using var tensor = parity.Tensor(name);
        var width = (int)tensor.shape[1];
        var flat = tensor.data<long>().ToArray();
        return Enumerable.Range(0, (int)tensor.shape[0]).Select(r => flat.AsSpan(r * width, width).ToArray()).ToList();
    }

    private static void AssertSameIds(IReadOnlyList<long> golden, IReadOnlyList<long> actual, ClipTokenizer? tokenizer, string what)
    {
        if (golden.SequenceEqual(actual))
            return;
        var first = Enumerable.Range(0, Math.Min(golden.Count, actual.Count)).FirstOrDefault(k => golden[k] != actual[k], Math.Min(golden.Count, actual.Count));
        string Show(IReadOnlyList<long> seq) => string.Join(" ", seq.Skip(Math.Max(0, first - 3)).Take(8)
            .Select(v => tokenizer is null || v < 0 ? v.ToString() : $"{v}:{tokenizer.TokenOf((int)v)}"));
        Assert.Fail($"{what}: lengths {actual.Count} vs golden {golden.Count}; first difference at {first}: actual [{Show(actual)}] golden [{Show(golden)}]");
    }

    private static string Describe(string prompt) => prompt.Length <= 40 ? prompt : prompt[..40] + "…";
}
