using System.Reflection;

namespace Easel.Inference.Text;

/// <summary>
/// The CLIP BPE vocabulary (vocab.json + merges.txt, 49408 tokens) that the tokenizers of every Stable Diffusion
/// release share, embedded in the assembly so that built-in tokenizers need no files on disk.
/// </summary>
internal static class ClipVocabulary
{
    /// <summary>The vocabulary with one release's tokenizer_config.json (its special tokens and pad token).</summary>
    public static ClipTokenizerFiles WithConfig(string tokenizerConfigJson) => new(Read("vocab.json"), Read("merges.txt"), tokenizerConfigJson, null);

    private static string Read(string file)
    {
        var name = $"Easel.Inference.Text.ClipVocabulary.{file}";
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Easel.Inference was built without its embedded CLIP vocabulary ({name}).");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
