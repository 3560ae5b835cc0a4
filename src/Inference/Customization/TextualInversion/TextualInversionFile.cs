using Easel.Inference.Loading;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Customization.TextualInversion;

/// <summary>
/// Reads and writes textual-inversion embedding files, safetensors only. Layouts read:
/// <list type="bullet">
/// <item>diffusers (<c>learned_embeds.safetensors</c>): one tensor named by its token, [dim] or [n, dim];</item>
/// <item>AUTOMATIC1111: <c>emb_params</c> [n, dim] (or <c>string_to_param.*</c>, a converted .pt), no token in the file;</item>
/// <item>SDXL (A1111/kohya): <c>clip_l</c> [n, 768] for the first text encoder and <c>clip_g</c> [n, 1280] for the second.</item>
/// </list>
/// Pickle files (.pt, .bin, …; torch.save output) are refused: unpickling can execute arbitrary code.
/// </summary>
public static class TextualInversionFile
{
    /// <summary>The file a diffusers textual-inversion training run writes (and <see cref="Write"/> names its output).</summary>
    public const string DiffusersFileName = "learned_embeds.safetensors";

    /// <summary>Reads an embedding file.</summary>
    /// <param name="name">The token of files that carry none (A1111, SDXL): the artifact's name; null uses the file name
    /// without its extension, as A1111 does. A diffusers file's own token is kept.</param>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="NotSupportedException">The file is a pickle; the message says how to convert it.</exception>
    /// <exception cref="InvalidDataException">A safetensors file in none of the embedding layouts.</exception>
    public static TextualInversionEmbedding Load(string path, string? name = null)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"Embedding file '{path}' does not exist.", path);
        RefusePickle(path);
        var fileName = Path.GetFileName(path);
        var token = string.IsNullOrWhiteSpace(name) ? Path.GetFileNameWithoutExtension(path) : name;
        using var file = SafeTensorsFile.Open(path);
        var keys = file.Keys.ToList();
        Tensor Read(string key)
        {
            var stored = file.Load(key);
            if (stored.dtype == float32)
                return stored;
            using (stored)
                return stored.to(float32);
        }

        if (keys.Contains("clip_l") || keys.Contains("clip_g"))
        {
            if (!keys.Contains("clip_l") || !keys.Contains("clip_g"))
                throw new InvalidDataException($"'{fileName}' is an SDXL embedding with only one of clip_l and clip_g; it needs both.");
            return Build(token, new Dictionary<string, Tensor>
            {
                [TextualInversionEmbedding.TextEncoder] = Read("clip_l"),
                [TextualInversionEmbedding.TextEncoder2] = Read("clip_g"),
            }, "a1111", fileName);
        }
        if (keys.Contains("emb_params"))
            return Build(token, new Dictionary<string, Tensor> { [TextualInversionEmbedding.TextEncoder] = Read("emb_params") }, "a1111", fileName);
        var converted = keys.Where(k => k.StartsWith("string_to_param.", StringComparison.Ordinal)).ToList();
        if (converted.Count == 1)
            return Build(token, new Dictionary<string, Tensor> { [TextualInversionEmbedding.TextEncoder] = Read(converted[0]) }, "a1111", fileName);
        if (keys.Count == 1)
            return Build(keys[0], new Dictionary<string, Tensor> { [TextualInversionEmbedding.TextEncoder] = Read(keys[0]) }, "diffusers", fileName);
        throw new InvalidDataException(
            $"'{fileName}' is not a textual-inversion embedding: expected one tensor named by its token (diffusers), emb_params (A1111) " +
            $"or clip_l + clip_g (SDXL); it holds {string.Join(", ", keys.Take(5))}{(keys.Count > 5 ? ", …" : "")}.");
    }

    /// <summary>
    /// Writes <paramref name="embedding"/> into <paramref name="folder"/>: a single-encoder embedding as diffusers'
    /// <see cref="DiffusersFileName"/> (<c>{token: [n, dim]}</c>, what <c>load_textual_inversion</c> reads), an SDXL one as
    /// <c>clip_l</c>/<c>clip_g</c> (A1111's SDXL layout, named after the token). Returns the path and the layout.
    /// </summary>
    public static (string Path, string Format) Write(string folder, TextualInversionEmbedding embedding)
    {
        Directory.CreateDirectory(folder);
        using var scope = torch.NewDisposeScope();
        var metadata = new Dictionary<string, string> { ["format"] = "pt" };
        if (embedding.Vectors.Count == 1 && embedding.Vectors.ContainsKey(TextualInversionEmbedding.TextEncoder))
        {
            var path = Path.Combine(folder, DiffusersFileName);
            SafeTensorsWriter.Write(path, [new(embedding.Token, embedding.Vectors[TextualInversionEmbedding.TextEncoder].detach().cpu())], metadata: metadata);
            return (path, "diffusers");
        }
        var sdxlPath = Path.Combine(folder, SafeFileName(embedding.Token) + ".safetensors");
        SafeTensorsWriter.Write(sdxlPath,
            [
                new("clip_l", embedding.Vectors[TextualInversionEmbedding.TextEncoder].detach().cpu()),
                new("clip_g", embedding.Vectors[TextualInversionEmbedding.TextEncoder2].detach().cpu()),
            ], metadata: metadata);
        return (sdxlPath, "a1111");
    }

    private static TextualInversionEmbedding Build(string token, Dictionary<string, Tensor> vectors, string format, string fileName)
    {
        try
        {
            return new TextualInversionEmbedding(token, vectors, format);
        }
        catch (ArgumentException e)
        {
            foreach (var tensor in vectors.Values)
                tensor.Dispose();
            throw new InvalidDataException($"'{fileName}': {e.Message}", e);
        }
    }

    private static void RefusePickle(string path)
    {
        if (!PickleFiles.IsPickle(path))
            return;
        var fileName = Path.GetFileName(path);
        var stem = Path.GetFileNameWithoutExtension(path);
        throw new NotSupportedException(
            $"'{fileName}' is a pickle (a torch.save file): unpickling can execute arbitrary code, so embeddings are accepted only as .safetensors. " +
            "Convert it once with a trusted Python: `import torch; from safetensors.torch import save_file; " +
            $"d = torch.load('{fileName}', weights_only=True); " +
            $"save_file({{'emb_params': d['string_to_param']['*']}} if 'string_to_param' in d else d, '{stem}.safetensors')` " +
            "(A1111 files hold string_to_param, diffusers files hold {token: vectors}), then upload the .safetensors file.");
    }

    private static string SafeFileName(string token)
    {
        var invalid = Path.GetInvalidFileNameChars().Concat(['<', '>', ':', '"', '|', '?', '*']).ToHashSet();
        var name = new string(token.Select(c => invalid.Contains(c) ? '_' : c).ToArray()).Trim('_', '.', ' ');
        return name.Length == 0 ? "embedding" : name;
    }
}
