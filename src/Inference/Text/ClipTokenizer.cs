using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Easel.Inference.Text;

/// <summary>
/// transformers' slow <c>CLIPTokenizer</c> without ftfy, reproduced exactly: special (added) tokens are split out of
/// the raw text first, every other span is cleaned (<see cref="ClipTextCleaner"/>), split into words by CLIP's
/// pattern and byte-pair encoded. Loads a diffusers <c>tokenizer/</c> folder (vocab.json, merges.txt,
/// tokenizer_config.json, special_tokens_map.json); special tokens and their ids come from those files.
/// </summary>
/// <remarks>Thread-safe after construction: the BPE cache is concurrent and nothing else mutates.</remarks>
public sealed class ClipTokenizer
{
    // The length transformers assumes when a folder's tokenizer_config.json does not state one; every CLIP used by SD has 77.
    private const int DefaultModelMaxLength = 77;

    private readonly Dictionary<string, int> _vocab;
    private readonly string[] _idToToken;
    private readonly ClipBytePairEncoder _bpe;
    // Added tokens (special tokens and added_tokens_decoder entries), longest first for leftmost-longest splitting.
    private readonly AddedToken[] _addedTokens;
    // Tokens added for one request (WithAddedTokens), ids after the base vocabulary; empty for a loaded tokenizer.
    private readonly Dictionary<string, int> _requestTokens = new(StringComparer.Ordinal);
    // A multi-vector token's expansion, as diffusers' maybe_convert_prompt: "<t>" → "<t>", "<t>_1", …
    private readonly Dictionary<string, string[]> _expansions = new(StringComparer.Ordinal);

    private ClipTokenizer(Dictionary<string, int> vocab, IReadOnlyList<(string, string)> merges, SpecialTokens special,
        IReadOnlyList<AddedToken> addedTokens, int modelMaxLength)
    {
        _vocab = vocab;
        _idToToken = new string[vocab.Count == 0 ? 0 : vocab.Values.Max() + 1];
        foreach (var (token, id) in vocab)
            _idToToken[id] = token;
        _addedTokens = addedTokens.OrderByDescending(t => t.Content.Length).ToArray();
        _bpe = new ClipBytePairEncoder(merges, ["<|startoftext|>", "<|endoftext|>"]);
        BosToken = special.Bos;
        EosToken = special.Eos;
        PadToken = special.Pad;
        UnkToken = special.Unk;
        UnkTokenId = IdOf(special.Unk);
        BosTokenId = IdOf(special.Bos);
        EosTokenId = IdOf(special.Eos);
        PadTokenId = IdOf(special.Pad);
        ModelMaxLength = modelMaxLength;
    }

    // A request's tokenizer: the base one's vocabulary, merges and BPE cache shared, the request's tokens added on top.
    private ClipTokenizer(ClipTokenizer baseTokenizer, IReadOnlyList<(string Token, int VectorCount)> tokens)
    {
        _vocab = baseTokenizer._vocab;
        _idToToken = baseTokenizer._idToToken;
        _bpe = baseTokenizer._bpe;
        BosToken = baseTokenizer.BosToken;
        EosToken = baseTokenizer.EosToken;
        PadToken = baseTokenizer.PadToken;
        UnkToken = baseTokenizer.UnkToken;
        UnkTokenId = baseTokenizer.UnkTokenId;
        BosTokenId = baseTokenizer.BosTokenId;
        EosTokenId = baseTokenizer.EosTokenId;
        PadTokenId = baseTokenizer.PadTokenId;
        ModelMaxLength = baseTokenizer.ModelMaxLength;
        var added = new List<AddedToken>(baseTokenizer._addedTokens);
        var nextId = _idToToken.Length;
        foreach (var (token, vectorCount) in tokens)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(token);
            ArgumentOutOfRangeException.ThrowIfLessThan(vectorCount, 1);
            var expansion = Enumerable.Range(0, vectorCount).Select(i => i == 0 ? token : $"{token}_{i}").ToArray();
            foreach (var name in expansion)
            {
                if (_vocab.ContainsKey(name))
                    throw new ArgumentException($"Token '{name}' is already in the tokenizer's vocabulary; choose another token name.", nameof(tokens));
                if (!_requestTokens.TryAdd(name, nextId++))
                    throw new ArgumentException($"Token '{name}' is added twice.", nameof(tokens));
                added.Add(new AddedToken(name, false, false));
            }
            if (vectorCount > 1)
                _expansions[token] = expansion;
        }
        _addedTokens = added.OrderByDescending(t => t.Content.Length).ToArray();
    }

    /// <summary>
    /// A tokenizer for one request that also knows <paramref name="tokens"/> (textual-inversion tokens), as transformers'
    /// <c>add_tokens</c> does but without changing this tokenizer: ids follow the base vocabulary in the given order, a
    /// token of n vectors takes n ids (<c>token</c>, <c>token_1</c>, …) and expands to all of them wherever the prompt names
    /// it, as diffusers' <c>maybe_convert_prompt</c> rewrites prompts.
    /// </summary>
    /// <exception cref="ArgumentException">A token is already in the vocabulary, or named twice.</exception>
    public ClipTokenizer WithAddedTokens(IReadOnlyList<(string Token, int VectorCount)> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (_requestTokens.Count > 0)
            throw new InvalidOperationException("This tokenizer already has request tokens; add them all in one call on the base tokenizer.");
        return new ClipTokenizer(this, tokens);
    }

    /// <summary>Ids of the base vocabulary (vocab.json and its added tokens): request tokens start here.</summary>
    public int BaseVocabularySize => _idToToken.Length;

    /// <summary>Sequence length of the text encoder's position table (77): padded/truncated output length.</summary>
    public int ModelMaxLength { get; }

    public string BosToken { get; }
    public string EosToken { get; }
    public string PadToken { get; }
    public string UnkToken { get; }
    public int BosTokenId { get; }
    public int EosTokenId { get; }
    public int PadTokenId { get; }
    public int UnkTokenId { get; }

    /// <summary>Number of entries in vocab.json.</summary>
    public int VocabSize => _vocab.Count;

    /// <summary>
    /// Loads a tokenizer folder. <paramref name="padTokenOverride"/> replaces the configured pad token, as
    /// <c>CLIPTokenizer.from_pretrained(folder, pad_token="!")</c> does; the override also becomes an added token,
    /// so its literal occurrences in prompts are split out.
    /// </summary>
    public static ClipTokenizer FromPretrained(string folder, string? padTokenOverride = null)
    {
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"Tokenizer folder '{folder}' does not exist.");
        string Required(string file)
        {
            var path = Path.Combine(folder, file);
            return File.Exists(path) ? File.ReadAllText(path) : throw new FileNotFoundException($"Tokenizer file '{path}' does not exist.", path);
        }
        string? Optional(string file) => File.Exists(Path.Combine(folder, file)) ? File.ReadAllText(Path.Combine(folder, file)) : null;
        var files = new ClipTokenizerFiles(Required("vocab.json"), Required("merges.txt"), Optional("tokenizer_config.json"), Optional("special_tokens_map.json"));
        return FromFiles(files, $"tokenizer folder '{folder}'", padTokenOverride);
    }

    /// <summary>
    /// Builds a tokenizer from the contents of a tokenizer folder's files; <paramref name="source"/> names them in errors
    /// (e.g. "tokenizer folder 'x'", "built-in SD 2.x tokenizer"). <see cref="FromPretrained"/> reads a folder into this.
    /// </summary>
    internal static ClipTokenizer FromFiles(ClipTokenizerFiles files, string source, string? padTokenOverride = null)
    {
        var vocab = ParseVocab(files.VocabJson, source);
        var merges = ParseMerges(files.Merges, source);

        var configured = new Dictionary<string, AddedToken>(StringComparer.Ordinal);
        var addedById = new Dictionary<string, int>(StringComparer.Ordinal);
        var added = new List<AddedToken>();
        var modelMaxLength = DefaultModelMaxLength;

        if (files.TokenizerConfigJson is { } configJson)
        {
            using var config = JsonDocument.Parse(configJson);
            var root = config.RootElement;
            ReadSpecialTokens(root, configured);
            if (root.TryGetProperty("model_max_length", out var max) && max.ValueKind == JsonValueKind.Number && max.TryGetInt32(out var length))
                modelMaxLength = length;
            if (root.TryGetProperty("added_tokens_decoder", out var decoder) && decoder.ValueKind == JsonValueKind.Object)
            {
                foreach (var entry in decoder.EnumerateObject())
                {
                    var token = AddedToken.Parse(entry.Value);
                    addedById[token.Content] = int.Parse(entry.Name, System.Globalization.CultureInfo.InvariantCulture);
                    added.Add(token);
                }
            }
        }
        // special_tokens_map.json is read after tokenizer_config.json and wins, as in transformers.
        if (files.SpecialTokensMapJson is { } mapJson)
        {
            using var map = JsonDocument.Parse(mapJson);
            ReadSpecialTokens(map.RootElement, configured);
        }
        if (padTokenOverride is not null)
            configured["pad_token"] = new AddedToken(padTokenOverride, false, false);

        AddedToken Require(string key) => configured.TryGetValue(key, out var t)
            ? t
            : throw new InvalidDataException($"The {source} does not define {key}.");
        var bos = Require("bos_token");
        var eos = Require("eos_token");
        var unk = Require("unk_token");
        // CLIPTokenizer's default pad token is "<|endoftext|>" when none is configured.
        var pad = configured.TryGetValue("pad_token", out var p) ? p : new AddedToken("<|endoftext|>", false, false);

        var vocabWithAdded = new Dictionary<string, int>(vocab, StringComparer.Ordinal);
        foreach (var (content, id) in addedById)
            vocabWithAdded[content] = id;
        foreach (var special in new[] { bos, eos, unk, pad })
        {
            if (!vocabWithAdded.ContainsKey(special.Content))
                throw new InvalidDataException($"Special token '{special.Content}' of the {source} is neither in vocab.json nor in added_tokens_decoder.");
            if (added.All(a => a.Content != special.Content))
                added.Add(special);
        }
        return new ClipTokenizer(vocabWithAdded, merges, new SpecialTokens(bos.Content, eos.Content, pad.Content, unk.Content), added, modelMaxLength);
    }

    /// <summary>The BPE tokens of a text, without BOS/EOS (transformers' <c>tokenizer.tokenize</c>).</summary>
    public IReadOnlyList<string> Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = new List<string>();
        foreach (var (span, isAdded) in SplitOnAddedTokens(text))
        {
            if (isAdded)
            {
                if (_expansions.TryGetValue(span, out var expansion))
                    tokens.AddRange(expansion);
                else
                    tokens.Add(span);
                continue;
            }
            var cleaned = ClipTextCleaner.Clean(span);
            foreach (var word in ClipPreTokenizer.Split(cleaned))
                tokens.AddRange(_bpe.Encode(ClipBytePairEncoder.ToByteSymbols(word)));
        }
        return tokens;
    }

    /// <summary>Token ids of a text without BOS/EOS; unknown tokens map to the unk id.</summary>
    public IReadOnlyList<long> EncodeTokens(string text) => Tokenize(text).Select(t => (long)IdOf(t)).ToList();

    /// <summary>BOS + ids + EOS with no length limit.</summary>
    public IReadOnlyList<long> EncodeUntruncated(string text)
    {
        var ids = new List<long> { BosTokenId };
        ids.AddRange(EncodeTokens(text));
        ids.Add(EosTokenId);
        return ids;
    }

    /// <summary>
    /// Tokenizes like <c>tokenizer(text, padding="max_length", max_length=maxLength, truncation=True)</c>: the first
    /// <c>maxLength - 1</c> ids (BOS included) are kept, EOS closes the sequence, and pad ids fill the rest.
    /// </summary>
    public ClipTokenization Encode(string text, int? maxLength = null)
    {
        var length = maxLength ?? ModelMaxLength;
        if (length < 2)
            throw new ArgumentOutOfRangeException(nameof(maxLength), length, "The length must leave room for BOS and EOS (at least 2).");
        var untruncated = EncodeUntruncated(text);
        var ids = new List<long>(length);
        if (untruncated.Count <= length)
        {
            ids.AddRange(untruncated);
        }
        else
        {
            ids.AddRange(untruncated.Take(length - 1));
            ids.Add(EosTokenId);
        }
        var mask = Enumerable.Repeat(1L, ids.Count).Concat(Enumerable.Repeat(0L, length - ids.Count)).ToList();
        while (ids.Count < length)
            ids.Add(PadTokenId);
        return new ClipTokenization(ids, mask, untruncated);
    }

    /// <summary>The padded input ids of several prompts as an int64 tensor [batch, maxLength] on the CPU.</summary>
    public Tensor EncodeBatch(IReadOnlyList<string> prompts, int? maxLength = null)
    {
        var length = maxLength ?? ModelMaxLength;
        var flat = prompts.SelectMany(p => Encode(p, length).InputIds).ToArray();
        return torch.tensor(flat, [prompts.Count, length], dtype: ScalarType.Int64);
    }

    /// <summary>The id of a token string (added tokens first, then vocab.json), or the unk id.</summary>
    public int IdOf(string token) =>
        _vocab.TryGetValue(token, out var id) ? id
        : _requestTokens.TryGetValue(token, out var added) ? added
        : _vocab.TryGetValue(UnkToken, out var unk) ? unk : throw new KeyNotFoundException(token);

    /// <summary>The token string of an id.</summary>
    public string TokenOf(int id)
    {
        if (id >= 0 && id < _idToToken.Length && _idToToken[id] is { } token)
            return token;
        foreach (var (added, addedId) in _requestTokens)
            if (addedId == id)
                return added;
        throw new ArgumentOutOfRangeException(nameof(id), id, "Unknown token id.");
    }

    // transformers' Trie.split: leftmost match, longest at that position; lstrip/rstrip trim the neighbouring text.
    private List<(string Text, bool IsAdded)> SplitOnAddedTokens(string text)
    {
        var parts = new List<(string Text, bool IsAdded, AddedToken? Token)>();
        var start = 0;
        var i = 0;
        while (i < text.Length)
        {
            AddedToken? match = null;
            foreach (var token in _addedTokens)
            {
                if (i + token.Content.Length <= text.Length && string.CompareOrdinal(text, i, token.Content, 0, token.Content.Length) == 0)
                {
                    match = token;
                    break;
                }
            }
            if (match is null)
            {
                i++;
                continue;
            }
            if (i > start)
                parts.Add((text[start..i], false, null));
            parts.Add((match.Content, true, match));
            i += match.Content.Length;
            start = i;
        }
        if (start < text.Length)
            parts.Add((text[start..], false, null));

        for (var k = 0; k < parts.Count; k++)
        {
            if (parts[k].Token is not { } token)
                continue;
            if (token.Rstrip && k + 1 < parts.Count && !parts[k + 1].IsAdded)
                parts[k + 1] = (parts[k + 1].Text.TrimStart(), false, null);
            if (token.Lstrip && k > 0 && !parts[k - 1].IsAdded)
                parts[k - 1] = (parts[k - 1].Text.TrimEnd(), false, null);
        }
        return parts.Where(p => p.Text.Length > 0).Select(p => (p.Text, p.IsAdded)).ToList();
    }

    private static void ReadSpecialTokens(JsonElement root, Dictionary<string, AddedToken> into)
    {
        foreach (var key in new[] { "bos_token", "eos_token", "unk_token", "pad_token" })
        {
            if (root.TryGetProperty(key, out var value) && value.ValueKind is JsonValueKind.String or JsonValueKind.Object)
                into[key] = AddedToken.Parse(value);
        }
    }

    private static Dictionary<string, int> ParseVocab(string json, string source) =>
        JsonSerializer.Deserialize<Dictionary<string, int>>(json) ?? throw new InvalidDataException($"The vocab.json of the {source} is empty.");

    // CLIPTokenizer reads merges.txt as text.strip().split("\n")[1 : 49152 - 256 - 2 + 1]: the first line (the
    // "#version" header) is always skipped and at most 48,894 merges are used, whatever the file holds beyond that.
    private const int MaxMerges = 49152 - 256 - 2;

    private static List<(string, string)> ParseMerges(string text, string source)
    {
        var lines = text.Trim().Split('\n');
        var merges = new List<(string, string)>();
        foreach (var line in lines.Skip(1).Take(MaxMerges))
        {
            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2)
                throw new InvalidDataException($"The merges.txt of the {source} has a malformed line '{line}'.");
            merges.Add((parts[0], parts[1]));
        }
        return merges;
    }

    private sealed record SpecialTokens(string Bos, string Eos, string Pad, string Unk);

    private sealed record AddedToken(string Content, bool Lstrip, bool Rstrip)
    {
        public static AddedToken Parse(JsonElement value) => value.ValueKind == JsonValueKind.String
            ? new AddedToken(value.GetString()!, false, false)
            : new AddedToken(value.GetProperty("content").GetString()!,
                value.TryGetProperty("lstrip", out var l) && l.ValueKind == JsonValueKind.True,
                value.TryGetProperty("rstrip", out var r) && r.ValueKind == JsonValueKind.True);
    }
}

/// <summary>The contents of a tokenizer folder's files (the last two are optional).</summary>
internal sealed record ClipTokenizerFiles(string VocabJson, string Merges, string? TokenizerConfigJson, string? SpecialTokensMapJson);
